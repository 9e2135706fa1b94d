#!/usr/bin/env python3
"""Check tflq's Model Explorer node data against Model Explorer itself.

For each MODEL.tflite and OVERLAY.json pair given on the command line:
  - the model is converted by Model Explorer's own TFLite flatbuffer adapter
    (the one the web app uses for .tflite files), giving its graph ids, node
    ids and each node's output tensor names; a graph id the adapter gives
    more than once is numbered as the web app numbers it (the n-th, n >= 2,
    becomes "ID (n)");
  - every graph id of the overlay must be one of those, and not one that
    still repeats (the web app would paint those graphs with one graph's
    data); every result key must lead to an op node the way the web app
    resolves it (an output tensor name first, a node id otherwise), each op
    node once, and every op node of a graph in the overlay must have one;
  - a graph missing from the overlay is accepted: `tflq inspect --subgraph`
    writes one subgraph, and tflq leaves out graphs whose ids repeat;
  - the overlay must build Model Explorer's ModelNodeData / GraphNodeData /
    NodeDataResult classes, and writing them back must give the same values.

It needs the pip package ai-edge-model-explorer (which brings the adapter),
so it is not part of CI:

  python3 -m venv /tmp/mevenv && /tmp/mevenv/bin/pip install ai-edge-model-explorer
  tflq inspect testdata/qat_partial.tflite --format model-explorer > /tmp/o.json
  /tmp/mevenv/bin/python scripts/check-model-explorer.py testdata/qat_partial.tflite /tmp/o.json

Exit status 0 when every pair passes, 1 when one fails (an overlay that is
empty or not a JSON object of graphs fails too), 2 for a usage error (not
MODEL OVERLAY pairs).
"""

import json
import sys

import ai_edge_model_explorer_adapter as adapter
from model_explorer.node_data_builder import GraphNodeData, ModelNodeData, NodeDataResult

AUXILIARY = {"GraphInputs", "GraphOutputs", "pseudo_const"}


def graphs_of(model_path):
    """Graph id, as the web app shows it -> (op node ids, output tensor name
    -> node id); and the ids the web app gives more than one graph."""
    out = json.loads(
        adapter.ConvertFlatbufferDirectlyToJson(adapter.VisualizeConfig(), model_path)
    )
    graphs = {}
    repeated = set()
    for collection in out:
        # The web app's addGraphCollections counts each adapter id and gives
        # its n-th graph (n >= 2) the id "ID (n)"; node data is then looked
        # up by that id alone.
        count = {}
        for sg in collection["subgraphs"]:
            gid = sg["id"]
            count[gid] = count.get(gid, 0) + 1
            if count[gid] > 1:
                gid = f"{gid} ({count[gid]})"
            if gid in graphs:
                repeated.add(gid)
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
            graphs[gid] = (ops, by_tensor)
    return graphs, repeated


def read_overlay(path):
    """The overlay's graphs, or a reason why it has none to check."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return None, f"cannot be read as JSON: {e}"
    if not isinstance(doc, dict) or not doc:
        return None, "is not a JSON object of one graph or more"
    for gid, g in doc.items():
        if not isinstance(g, dict) or not isinstance(g.get("results"), dict):
            return None, f"graph {gid!r} has no results object"
    return doc, None


def check(model_path, overlay_path):
    doc, why = read_overlay(overlay_path)
    if doc is None:
        print(f"{overlay_path}: {why}")
        print(f"{overlay_path}: FAIL (no graphs) for {model_path}")
        return False
    problems = []
    graphs, repeated = graphs_of(model_path)
    for gid, data in doc.items():
        if gid in repeated:
            problems.append(f"graph id {gid!r} names several graphs of the model: the web app would paint them all with this data")
            continue
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
    try:
        model_data = ModelNodeData(
            graphsData={
                gid: GraphNodeData(
                    results={k: NodeDataResult(**r) for k, r in g["results"].items()},
                    **{k: v for k, v in g.items() if k != "results"},
                )
                for gid, g in doc.items()
            }
        )
        back = json.loads(model_data.to_json_string())
    except TypeError as e:
        problems.append(f"Model Explorer's node data classes refuse it: {e}")
        back = doc
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
        print(__doc__, file=sys.stderr)
        return 2
    ok = all([check(m, o) for m, o in zip(argv[0::2], argv[1::2])])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
