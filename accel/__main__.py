from accel.app.cli import main

raise SystemExit(main())
