"""Run inside the zigzag-dse 3.9.1 venv (bench/zigzag_compare.py starts it as a subprocess).

argv: HARDWARE_YAML MAPPING_YAML LAYERS_JSON OUT_JSON OPT.  LAYERS_JSON is a list of
{name, K, C, P, Q, R, S, stride}; each layer is run through ZigZag's own search
(get_hardware_performance_zigzag) and the chosen mapping, per-level energies (pJ), access counts,
latency (cycles) and the wall time of the call (``search_s``: ZigZag's workload parsing, LOMA search and
cost model for that layer, in this already-started process) are written to OUT_JSON.  A small warm-up layer
runs first (not recorded), so no timed layer pays ZigZag's first-call setup.
"""

import json
import sys
import tempfile
import time


def layer_dict(i: int, ly: dict) -> dict:
    ix = (ly["Q"] - 1) * ly["stride"] + ly["S"]
    iy = (ly["P"] - 1) * ly["stride"] + ly["R"]
    return {
        "id": i, "name": ly["name"], "operator_type": "Conv",
        "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        "dimension_relations": [f"ix={ly['stride']}*ox+1*fx", f"iy={ly['stride']}*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [1, ly["K"], ly["C"], ly["P"], ly["Q"], ly["R"], ly["S"]],
        "operand_precision": {"W": 8, "I": 8, "O": 16, "O_final": 8},
        "operand_source": {"I": i},
        "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [ix, iy],
        "padding": [[0, 0], [0, 0]],
    }


def main() -> None:
    hw, mp, layers_path, out_path, opt = sys.argv[1:6]
    from zigzag.api import get_hardware_performance_zigzag
    from zigzag.mapping.data_movement import DataDirection

    with open(layers_path) as f:
        layers = json.load(f)
    warm = {"name": "warmup", "K": 8, "C": 8, "P": 4, "Q": 4, "R": 3, "S": 3, "stride": 1}
    with tempfile.TemporaryDirectory() as dump:
        get_hardware_performance_zigzag([layer_dict(0, warm)], hw, mp, opt=opt, dump_folder=dump,
                                        loma_show_progress_bar=False)
    results = []
    for i, ly in enumerate(layers):
        with tempfile.TemporaryDirectory() as dump:
            t0 = time.perf_counter()
            _, _, cmes = get_hardware_performance_zigzag(
                [layer_dict(0, ly)], hw, mp, opt=opt, dump_folder=dump, loma_show_progress_bar=False)
            search_s = time.perf_counter() - t0
        cme = cmes[0][1][0][0] if isinstance(cmes[0][1], list) else cmes[0][0]
        hier = cme.accelerator.memory_hierarchy
        ops = {}
        for lop, accs in cme.memory_word_access.items():
            mop = cme.memory_operand_links.layer_to_mem_op(lop)
            levels = hier.get_memory_levels(mem_op=mop)
            tm = cme.temporal_mapping.mapping_dic_origin[lop]
            ops[str(lop)] = {
                "mem_op": str(mop),
                "levels": [{
                    "memory": lvl.name,
                    "energy_pj": float(e),
                    "temporal_inner_to_outer": [[str(d), float(s)] for d, s in tm[j]] if j < len(tm) else [],
                    "accesses": {k.name: float(a.get(k)) for k in DataDirection},
                    "read_energy_pj": float(lvl.read_energy), "write_energy_pj": float(lvl.write_energy),
                    "served_dimensions": sorted(str(d) for d in lvl.served_dimensions),
                } for j, (lvl, e, a) in enumerate(zip(levels, cme.mem_energy_breakdown[lop], accs))],
                "spatial_per_level": [[[str(d), float(s)] for d, s in lv]
                                      for lv in cme.spatial_mapping.mapping_dict_origin[lop]],
            }
        sm = cme.layer.spatial_mapping
        results.append({
            "layer": ly, "layer_precision": layer_dict(0, ly)["operand_precision"], "operands": ops,
            "spatial_by_array_dim": {str(oa): {str(d): float(f) for d, f in u.items()} for oa, u in sm.items()},
            "array_dims": {str(d): int(n) for d, n in cme.accelerator.operational_array.dimension_sizes.items()},
            "mac_energy_pj": float(cme.mac_energy), "energy_total_pj": float(cme.energy_total),
            "latency_cycles": float(cme.latency_total2), "ideal_cycles": float(cme.ideal_cycle),
            "ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
            "onloading_cycles": float(cme.data_onloading_cycle),
            "offloading_cycles": float(cme.data_offloading_cycle),
            "stall_slack_cycles": float(cme.stall_slack_comb), "search_s": search_s,
        })
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
