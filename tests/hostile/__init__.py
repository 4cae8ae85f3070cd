"""Hostile-input corpus (issue 10): every bad input through the real ``accelsim`` entry point must end in
exit 1 or 2 with a short message naming where the problem is, no traceback, no hang, no file changed."""
