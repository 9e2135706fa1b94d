#!/usr/bin/env python3
"""Check tflq's Model Explorer node data against Model Explorer itself.

For each MODEL.tflite and OVERLAY.json pair given on the command line:
  - the model is converted by Model Explorer's own TFLite flatbuffer adapter
    (the one the web app uses for .tflite files), giving its graph ids, node
    ids and each node's output tensor names;
  - every graph id of the overlay must be one of the model's, and every
    result key must lead to an op node the way the web app resolves it (an
    output tensor name first, a node id otherwise), each op node once;
  - the overlay must build Model Explorer's ModelNodeData / GraphNodeData /
    NodeDataResult classes, and writing them back must give the same values.

It needs the pip package ai-edge-model-explorer (which brings the adapter),
so it is not part of CI:

  python3 -m venv /tmp/mevenv && /tmp/mevenv/bin/pip install ai-edge-model-explorer
  tflq inspect testdata/qat_partial.tflite --format model-explorer > /tmp/o.json
  /tmp/mevenv/bin/python scripts/check-model-explorer.py testdata/qat_partial.tflite /tmp/o.json

Exit status 0 when every pair passes, 1 otherwise.
"""

import json
import sys

import ai_edge_model_explorer_adapter as adapter
from model_explorer.node_data_builder import GraphNodeData, ModelNodeData, NodeDataResult

AUXILIARY = {"GraphInputs", "GraphOutputs", "pseudo_const"}


def graphs_of(model_path):
    """Graph id -> (op node ids, output tensor name -> node id)."""
    out = json.loads(
        adapter.ConvertFlatbufferDirectlyToJson(adapter.VisualizeConfig(), model_path)
    )
    graphs = {}
    for collection in out:
        for sg in collection["subgraphs"]:
            ops = set()
            by_tensor = {}
            # The web app walks the nodes in order; a later node wins a name.
            for node in sg["nodes"]:
                if node["label"] not in AUXILIARY:
                    ops.add(node["id"])
                for meta in node.get("outputsMetadata", []):
                    for attr in meta.get("attrs", []):
                        if attr["key"] == "tensor_name":
                            by_tensor[attr["value"]] = node["id"]
            graphs[sg["id"]] = (ops, by_tensor)
    return graphs


def check(model_path, overlay_path):
    problems = []
    with open(overlay_path) as f:
        doc = json.load(f)
    graphs = graphs_of(model_path)
    for gid, data in doc.items():
        if gid not in graphs:
            problems.append(f"graph id {gid!r} is not one of {sorted(graphs)}")
            continue
        ops, by_tensor = graphs[gid]
        hit = {}
        for key in data["results"]:
            node = by_tensor.get(key, key)
            if node not in ops:
                problems.append(f"{gid}: key {key!r} leads to no op node")
            elif node in hit:
                problems.append(f"{gid}: keys {hit[node]!r} and {key!r} both colour node {node}")
            else:
                hit[node] = key
        if set(hit) != ops:
            problems.append(f"{gid}: op nodes without a result: {sorted(ops - set(hit), key=int)}")
    # Model Explorer's own classes, and back.
    known = {k: v for k, v in doc.items()}
    model_data = ModelNodeData(
        graphsData={
            gid: GraphNodeData(
                results={k: NodeDataResult(**r) for k, r in g["results"].items()},
                **{k: v for k, v in g.items() if k != "results"},
            )
            for gid, g in known.items()
        }
    )
    back = json.loads(model_data.to_json_string())
    for gid, g in doc.items():
        for field, value in g.items():
            if back[gid].get(field) != value:
                problems.append(f"{gid}: {field} does not survive ModelNodeData")
    for p in problems:
        print(f"{overlay_path}: {p}")
    n = sum(len(g["results"]) for g in doc.values())
    print(f"{overlay_path}: {'FAIL' if problems else 'ok'} ({n} results, {len(doc)} graph(s)) for {model_path}")
    return not problems


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__)
        return 2
    ok = all([check(m, o) for m, o in zip(argv[0::2], argv[1::2])])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
