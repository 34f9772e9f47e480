import { attr, createBuilder, DataType, Graph, Node, Value } from "@lathe/core";
import { describe, expect, it } from "vitest";
import { catchLatheError } from "../fixtures/catch-lathe-error.js";

/** A one-output node named after its output, reading `inputs`. */
function op(opType: string, name: string, inputs: (Value | undefined)[] = []): Node {
  return new Node({ opType, name, inputs, outputs: [name] });
}

function usesOf(value: Value): [string, number][] {
  return value.uses().map((u) => [u.node.name, u.index]);
}

function names(graph: Graph): string[] {
  return graph.nodes().map((n) => n.name);
}

/** Every node comes after the nodes producing what it reads (also through its subgraphs). */
function expectTopological(graph: Graph): void {
  const seen = new Set<Node>();
  for (const node of graph) {
    const reads = [...node.inputs];
    for (const sub of node.subgraphs())
      for (const inner of sub.allNodes()) reads.push(...inner.inputs);
    for (const value of reads) {
      const producer = value?.producer();
      if (producer?.graph === graph)
        expect(seen.has(producer), `${node.name} reads ${value?.name} too early`).toBe(true);
    }
    seen.add(node);
  }
}

describe("producer and uses bookkeeping", () => {
  it("a node's outputs know their producer and index; its inputs know their uses", () => {
    const x = new Value("x");
    const split = new Node({ opType: "Split", name: "split", inputs: [x], outputs: ["a", "b"] });
    const add = op("Add", "add", [split.outputs[0], split.outputs[1]]);
    expect(split.outputs.map((v) => [v.producer(), v.outputIndex])).toEqual([
      [split, 0],
      [split, 1],
    ]);
    expect(x.producer()).toBeUndefined();
    expect(x.outputIndex).toBe(-1);
    expect(usesOf(x)).toEqual([["split", 0]]);
    expect(usesOf(split.outputs[0]!)).toEqual([["add", 0]]);
    expect(usesOf(split.outputs[1]!)).toEqual([["add", 1]]);
    expect(add.inputs).toEqual([split.outputs[0], split.outputs[1]]);
  });

  it("setInput moves the use from the old value to the new one", () => {
    const [a, b] = [new Value("a"), new Value("b")];
    const node = op("Relu", "relu", [a]);
    node.setInput(0, b);
    expect(usesOf(a)).toEqual([]);
    expect(usesOf(b)).toEqual([["relu", 0]]);
    node.setInput(0, b); // setting the same value again must not record a second use
    expect(usesOf(b)).toEqual([["relu", 0]]);
    node.setInput(0, undefined);
    expect(usesOf(b)).toEqual([]);
    expect(node.inputs).toEqual([undefined]);
  });

  it("a value read twice by one node keeps one use per input slot", () => {
    const [x, y] = [new Value("x"), new Value("y")];
    const mul = op("Mul", "mul", [x, x]);
    expect(usesOf(x)).toEqual([
      ["mul", 0],
      ["mul", 1],
    ]);
    mul.setInput(1, y);
    expect(usesOf(x)).toEqual([["mul", 0]]);
    expect(usesOf(y)).toEqual([["mul", 1]]);
  });

  it("appendInput adds a slot, also for an omitted optional input", () => {
    const [x, scale] = [new Value("x"), new Value("scale")];
    const node = op("Resize", "resize", [x]);
    node.appendInput(undefined);
    node.appendInput(scale);
    expect(node.inputs).toEqual([x, undefined, scale]);
    expect(usesOf(scale)).toEqual([["resize", 2]]);
  });

  it("setInput past the end is a misuse", () => {
    const node = op("Relu", "relu", [new Value("x")]);
    const error = catchLatheError(() => node.setInput(3, new Value("y")));
    expect(error.code).toBe("IR_MISUSE");
    expect(error.message).toContain("input index 3 out of range");
    expect(node.inputs).toHaveLength(1);
  });

  it("truncateInputs drops trailing inputs and their uses", () => {
    const [x, s, z] = [new Value("x"), new Value("s"), new Value("z")];
    const node = op("QuantizeLinear", "q", [x, s, z]);
    node.truncateInputs(1);
    expect(node.inputs).toEqual([x]);
    expect(usesOf(x)).toEqual([["q", 0]]);
    expect(usesOf(s)).toEqual([]);
    expect(usesOf(z)).toEqual([]);
  });

  it("removing a node detaches it from its inputs", () => {
    const x = new Value("x");
    const graph = new Graph({ inputs: [x] });
    const relu = op("Relu", "relu", [x]);
    graph.append(relu);
    graph.remove(relu);
    expect(usesOf(x)).toEqual([]);
    expect(relu.graph).toBeUndefined();
    expect(graph.nodeCount).toBe(0);
  });
});

describe("replaceAllUsesWith", () => {
  it("rewires node inputs, including nodes of a subgraph that captures the value", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [4]);
    const cond = b.input("cond", DataType.BOOL, []);
    const old = b.Relu(x);
    const replacement = b.Sigmoid(x);
    const thenBranch = createBuilder();
    thenBranch.output(thenBranch.Neg(old), "then_out"); // reads `old` from the outer graph
    const elseBranch = createBuilder();
    elseBranch.output(elseBranch.Identity(x), "else_out");
    const ifOut = b.If(cond, { then_branch: thenBranch.graph, else_branch: elseBranch.graph });
    const consumer = b.Add(old, ifOut);
    b.output(old, "old_out");

    old.replaceAllUsesWith(replacement);

    const captured = thenBranch.graph.first!;
    expect(captured.inputs).toEqual([replacement]);
    expect(consumer.producer()!.inputs).toEqual([replacement, ifOut]);
    expect(old.uses()).toEqual([]);
    expect(usesOf(replacement).sort()).toEqual(
      [
        [captured.name, 0],
        [consumer.producer()!.name, 0],
      ].sort(),
    );
    // Without the graph, graph outputs are left alone.
    expect(b.graph.outputs).toEqual([old]);
  });

  it("also rewires graph outputs when given the graph", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [4]);
    const old = b.Relu(x);
    const replacement = b.Abs(x);
    b.output(old, "y");
    b.output(x, "passthrough");
    old.replaceAllUsesWith(replacement, b.graph);
    expect(b.graph.outputs).toEqual([replacement, x]);
    // With nothing reading it any more, the old node can go.
    b.graph.remove(old.producer()!);
    expect(names(b.graph)).toEqual(["Abs"]);
  });

  it("replacing a value with itself changes nothing", () => {
    const x = new Value("x");
    const relu = op("Relu", "relu", [x]);
    x.replaceAllUsesWith(x);
    expect(relu.inputs).toEqual([x]);
    expect(usesOf(x)).toEqual([["relu", 0]]);
  });
});

describe("node list", () => {
  it("insertBefore, insertAfter, append and remove keep order and nodeCount", () => {
    const graph = new Graph();
    const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map((n) => op("Identity", n));
    graph.append(a!, e!);
    graph.insertBefore(e!, b!, c!);
    graph.insertAfter(c!, d!);
    expect(names(graph)).toEqual(["a", "b", "c", "d", "e"]);
    expect(graph.nodeCount).toBe(5);
    expect([graph.first?.name, graph.last?.name]).toEqual(["a", "e"]);

    graph.remove(a!);
    graph.remove(e!);
    graph.remove(c!);
    expect(names(graph)).toEqual(["b", "d"]);
    expect(graph.nodeCount).toBe(2);
    expect([graph.first?.name, graph.last?.name]).toEqual(["b", "d"]);

    graph.insertBefore(b!, a!);
    graph.insertAfter(d!, e!);
    expect(names(graph)).toEqual(["a", "b", "d", "e"]);
    expect(graph.nodeCount).toBe(4);
  });

  it("a node removed while iterating does not stop the iteration", () => {
    const graph = new Graph();
    graph.append(...["a", "b", "c", "d"].map((n) => op("Identity", n)));
    const visited: string[] = [];
    for (const node of graph) {
      visited.push(node.name);
      if (node.name === "b" || node.name === "c") graph.remove(node);
    }
    expect(visited).toEqual(["a", "b", "c", "d"]);
    expect(names(graph)).toEqual(["a", "d"]);
  });

  it("refuses a node that already belongs to a graph, and an anchor from another graph", () => {
    const [g1, g2] = [new Graph({ name: "g1" }), new Graph({ name: "g2" })];
    const [a, b] = [op("Identity", "a"), op("Identity", "b")];
    g1.append(a);
    g2.append(b);
    expect(catchLatheError(() => g2.append(a)).message).toContain("already belongs to a graph");
    expect(catchLatheError(() => g1.insertAfter(b, op("Identity", "c"))).message).toContain(
      'is not in graph "g1"',
    );
    expect(catchLatheError(() => g1.remove(b)).code).toBe("IR_MISUSE");
    expect([g1.nodeCount, g2.nodeCount]).toEqual([1, 1]);
  });

  it("remove refuses while an output is read by a node or is a graph output", () => {
    const x = new Value("x");
    const graph = new Graph({ inputs: [x] });
    const relu = op("Relu", "relu", [x]);
    const neg = op("Neg", "neg", [relu.output]);
    graph.append(relu, neg);
    graph.outputs.push(neg.output);

    const used = catchLatheError(() => graph.remove(relu));
    expect(used.code).toBe("IR_MISUSE");
    expect(used.message).toContain('output "relu" is still used');
    const asOutput = catchLatheError(() => graph.remove(neg));
    expect(asOutput.message).toContain('output "neg" is still used');
    // Nothing changed on refusal.
    expect(names(graph)).toEqual(["relu", "neg"]);
    expect(usesOf(relu.output)).toEqual([["neg", 0]]);

    graph.remove(relu, { force: true });
    expect(names(graph)).toEqual(["neg"]);
    expect(usesOf(x)).toEqual([]);
  });

  it("allNodes walks subgraphs depth first", () => {
    const b = createBuilder();
    const cond = b.input("cond", DataType.BOOL, []);
    const x = b.input("x", DataType.FLOAT, [2]);
    const inner = createBuilder({ namePrefix: "then" });
    inner.output(inner.Neg(x), "t");
    const other = createBuilder({ namePrefix: "else" });
    other.output(other.Abs(x), "e");
    b.Relu(b.If(cond, { then_branch: inner.graph, else_branch: other.graph }));
    expect([...b.graph.allNodes()].map((n) => n.name)).toEqual([
      "If",
      "then/Neg",
      "else/Abs",
      "Relu",
    ]);
  });
});

describe("sort", () => {
  /**
   * Removes every node and appends them again in reverse, the worst order for sort. Forced
   * removal detaches inputs, so they are put back as they were.
   */
  function shuffleReversed(graph: Graph): void {
    const nodes = graph.nodes();
    const inputs = nodes.map((n) => [...n.inputs]);
    for (const node of nodes) graph.remove(node, { force: true });
    nodes.forEach((node, i) => {
      for (const v of inputs[i]!) node.appendInput(v);
    });
    graph.append(...[...nodes].reverse());
  }

  function chain() {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [2, 2]);
    const w = b.constant([1, 2, 3, 4], [2, 2], DataType.FLOAT, "w");
    const mm = b.MatMul(x, w);
    const relu = b.Relu(mm);
    const sig = b.Sigmoid(mm);
    b.output(b.Add(relu, sig), "y");
    return b.graph;
  }

  it("restores a topological order after the nodes were reversed", () => {
    const graph = chain();
    shuffleReversed(graph);
    expect(names(graph)).toEqual(["Add", "Sigmoid", "Relu", "MatMul"]);
    graph.sort();
    expectTopological(graph);
    expect(names(graph)[0]).toBe("MatMul");
    expect(names(graph)[3]).toBe("Add");
    expect(graph.nodeCount).toBe(4);
    expect([graph.first?.name, graph.last?.name]).toEqual(["MatMul", "Add"]);
  });

  it("keeps an already sorted graph exactly as it is, including the order of independent nodes", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [2]);
    // Independent branches written in an order no sort key would produce.
    const z = b.node("Neg", [x], {}, { name: "z" }).output;
    const a = b.node("Abs", [x], {}, { name: "a" }).output;
    const m = b.node("Relu", [z], {}, { name: "m" }).output;
    b.output(b.node("Sum", [m, a], {}, { name: "sum" }).output, "y");
    const before = names(b.graph);
    b.graph.sort();
    expect(names(b.graph)).toEqual(before);
    b.graph.sort();
    expect(names(b.graph)).toEqual(["z", "a", "m", "sum"]);
  });

  it("accounts for values an If branch captures from the outer graph", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [2]);
    const cond = b.input("cond", DataType.BOOL, []);
    const hidden = b.node("Relu", [x], {}, { name: "producer" }).output;
    // The If reads `hidden` only inside its branches; its own inputs are just `cond`.
    const thenB = createBuilder({ namePrefix: "then" });
    const deeper = createBuilder({ namePrefix: "deeper" });
    deeper.output(deeper.Neg(hidden), "deep");
    thenB.output(
      thenB.If(cond, { then_branch: deeper.graph, else_branch: identityGraph(hidden) }),
      "t",
    );
    const elseB = createBuilder({ namePrefix: "else" });
    elseB.output(elseB.Identity(x), "e");
    const ifNode = b.node(
      "If",
      [cond],
      { then_branch: thenB.graph, else_branch: elseB.graph },
      { name: "if" },
    );
    b.output(ifNode.output, "y");

    shuffleReversed(b.graph);
    expect(names(b.graph)).toEqual(["if", "producer"]);
    b.graph.sort();
    expect(names(b.graph)).toEqual(["producer", "if"]);
  });

  it("throws a clear error on a cycle, naming a node in it", () => {
    const x = new Value("x");
    const graph = new Graph({ name: "loop", inputs: [x] });
    const first = op("Add", "first", [x, undefined]);
    const second = op("Relu", "second", [first.output]);
    first.setInput(1, second.output);
    graph.append(first, second);
    const error = catchLatheError(() => graph.sort());
    expect(error.code).toBe("ONNX_INVALID");
    expect(error.message).toMatch(/cycle through node "(first|second)"/);
    expect(error.where).toBe('graph "loop"');
    // The failed sort left the list untouched.
    expect(names(graph)).toEqual(["first", "second"]);
  });

  it("sorts a wide graph correctly", () => {
    const b = createBuilder();
    let current = b.input("x", DataType.FLOAT, [1]);
    const side: Value[] = [];
    for (let i = 0; i < 200; i++) {
      current = b.Relu(current);
      if (i % 7 === 0) side.push(b.Neg(current));
    }
    b.output(b.Sum(current, ...side), "y");
    shuffleReversed(b.graph);
    b.graph.sort();
    expectTopological(b.graph);
    expect(b.graph.nodeCount).toBe(200 + side.length + 1);
  });
});

describe("initializers", () => {
  it("addInitializer refuses a duplicate name; removeInitializer refuses while it is read", () => {
    const b = createBuilder();
    const x = b.input("x", DataType.FLOAT, [2]);
    const w = b.constant([1, 2], [2], DataType.FLOAT, "w");
    const add = b.Add(x, w);
    b.output(add, "y");
    expect(catchLatheError(() => b.constant([3, 4], [2], DataType.FLOAT, "w")).message).toContain(
      'already has an initializer named "w"',
    );
    expect(catchLatheError(() => b.graph.removeInitializer("w")).message).toContain(
      'initializer "w" is still used',
    );
    add.producer()!.setInput(1, x);
    b.graph.removeInitializer("w");
    expect([...b.graph.initializers.keys()]).toEqual([]);
  });

  it("attribute graphs know the node that holds them", () => {
    const g = new Graph({ name: "body" });
    const node = new Node({ opType: "Loop", name: "loop", attributes: [attr.graph("body", g)] });
    expect(g.parent).toBe(node);
  });
});

function identityGraph(value: Value): Graph {
  const b = createBuilder({ namePrefix: "identity" });
  b.output(b.Identity(value), "i");
  return b.graph;
}
