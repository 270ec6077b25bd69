/**
 * The Nix side of the evaluator: helper functions defined once in each repl
 * child, and the expressions that set up the root and describe one attribute.
 * Each request is a single line whose answer is one JSON string, so parsing
 * the repl's output stays trivial and a chunk of attributes costs one round
 * trip.
 */
import { nixString, nixStringList, type AttrPath } from '../nix/syntax.js';
import type { AutoArg, ResolvedInput } from '../config.js';
import type { WorkUnit } from '../work.js';

/**
 * `autoCall` mirrors Nix's auto-calling of a function root (nix-instantiate,
 * nix-eval-jobs): a function with formal arguments gets the --arg/--argstr
 * values it names. Nix passes every argument to a function with `...`, which
 * Nix code cannot detect, so such a function receives only the arguments it
 * names.
 *
 * `describe` answers one attribute path with a Description the TypeScript
 * side turns into an event (`describeValue` for a value at hand): a
 * derivation (forcing drvPath writes the .drv, as
 * nix-instantiate does), a set to recurse into (the root always; others when
 * `recurseForDerivations` is true or with --force-recurse), or `skip`.
 * Store paths go out without their string context, which toJSON would
 * otherwise gather into one set per chunk for nothing.
 * `callLocked` loads a flake from the lock graph the master made (see
 * lockFlake): each node's locked source is fetched with fetchTree and its
 * `outputs` called with its inputs and `self`, the shape
 * `builtins.getFlake` produces.
 *
 * `chunk` describes many siblings in one request (see chunkRequest). It
 * finds them through a memo of the tree (`memoOf`): each set's filtered,
 * sorted names and its children's memos are computed once per child process
 * however many requests visit them (attrNames of a 100k set costs
 * milliseconds). A memo is made only for a set whose names are asked for,
 * not for every derivation: what the child keeps is what Nix's garbage
 * collector walks on every collection. Each sibling is described behind `tryEval`; errors tryEval
 * cannot catch (abort, type errors, infinite recursion) fail the whole
 * request, and the caller splits it.
 *
 * `sweep` is the whole program of a one-shot evaluation (see
 * src/worker/sweep.ts): it describes sibling ranges, or a part of a root,
 * and everything walkable under them, level by level, printing each
 * `group` descriptions as a trace line. It walks values, not the memo: it
 * visits each set once, so the memo's records would only cost (5% of a
 * sweep of 100k trivial derivations). `walkedChildren` and `startOf` take
 * how to step to a child (`childOf` for the memo tree, `valueOf`) so that
 * chunks and sweeps walk the same way. A sweep's group is forced by the
 * toJSON that prints it, under one tryEval for the group; only a group
 * that throws is described again one by one behind guardedOf. A tryEval
 * and a deepSeq per description cost 5% of a part of flat 100k (1.87 s
 * against 1.74 s of one core, min of 6). The extras (meta, --apply,
 * constituents) are still forced deeply, since toJSON skips what sits
 * beside an outPath; the rest of a description is strings and lists,
 * which toJSON forces whole.
 *
 * Meta values are kept when they force and serialise (no functions, no
 * derivations), the rule Nix uses for `nix-env --json --meta`.
 *
 * A description is made for every derivation, so its cost per derivation
 * is most of what evix adds to Nix's own: the common case goes first
 * (`?` for attributes most derivations lack, such as `outputs` and
 * `requiredSystemFeatures`; the extras chosen once for the options, not
 * per derivation). On a sweep of 100k trivial derivations that took 10%
 * off (3.9 s to 3.5 s of one core). A Nix lambda takes one argument, so
 * each argument of a curried call is an environment and each helper
 * called per attribute a call: `describeValue` is applied to the options
 * and the handling of extras once (per sweep, chunk or request), then to
 * each attribute, and the per-derivation checks are inline, which halved
 * a sweep's calls per derivation (20 to 10) and what the collector marks
 * (see docs/architecture.md).
 */
const HELPERS = `
let
  autoCall = f: args:
    if builtins.isFunction f then f (builtins.intersectAttrs (builtins.functionArgs f) args)
    else if builtins.isAttrs f && f ? __functor then autoCall (f.__functor f) args
    else f;
  valueOf = v: name: v.\${name};
  select = root: path: builtins.foldl' valueOf root path;
  noContext = builtins.unsafeDiscardStringContext;
  outputOf = d: o: let out = d.\${o} or null; in if builtins.isAttrs out && out ? outPath then [ o (noContext out.outPath) ] else [ ];
  validMeta = v:
    if builtins.isFunction v then false
    else if builtins.isList v then builtins.all validMeta v
    else if builtins.isAttrs v then !(v ? outPath) && builtins.all validMeta (builtins.attrValues v)
    else true;
  metaOf = d:
    let
      meta = d.meta or { };
      keep = name: (builtins.tryEval (let v = meta.\${name}; in validMeta v && builtins.deepSeq v true)).value;
    in builtins.listToAttrs (map (name: { inherit name; value = meta.\${name}; })
      (builtins.filter keep (builtins.attrNames meta)));
  aggregateOf = d:
    let members = d.constituents; in {
      constituents = builtins.sort builtins.lessThan (map (c: c.drvPath) (builtins.filter (c: !builtins.isString c) members));
      namedConstituents = builtins.filter builtins.isString members;
      globConstituents = (d._hydraGlobConstituents or false) == true;
    };
  aggregateOrNull = d: if (d._hydraAggregate or false) == true then aggregateOf d else null;
  extrasOf = opts: if !opts.meta && opts.apply == null then aggregateOrNull else d:
    (if opts.meta then { meta = metaOf d; } else { })
    // (if opts.apply != null then { extraValue = opts.apply d; } else { })
    // (let aggregate = aggregateOrNull d; in if aggregate == null then { } else aggregate);
  callLocked = spec:
    let
      lock = spec.locks;
      fetch = locked: builtins.fetchTree (builtins.removeAttrs locked [ "dir" ]);
      resolve = input: if builtins.isList input then follow lock.root input else input;
      follow = key: names: if names == [ ] then key
        else follow (resolve lock.nodes.\${key}.inputs.\${builtins.head names}) (builtins.tail names);
      load = key:
        let
          node = lock.nodes.\${key};
          isRoot = key == lock.root;
          locked = if isRoot then spec.root else node.locked;
          sourceInfo = fetch locked // ((if isRoot then spec else node).shippedInfo or { });
          dir = locked.dir or "";
          flake = import (sourceInfo.outPath + (if dir == "" then "" else "/" + dir) + "/flake.nix");
          inputs = builtins.mapAttrs (name: input: nodes.\${resolve input}) (node.inputs or { });
          outputs = flake.outputs (inputs // { self = result; });
          result = outputs // sourceInfo // { inherit inputs outputs sourceInfo; _type = "flake"; };
        in if node.flake or true then result else sourceInfo;
      nodes = builtins.mapAttrs (key: node: load key) lock.nodes;
    in nodes.\${lock.root};
  featuresOf = d:
    let features = d.requiredSystemFeatures; in
    if builtins.isList features then features
    else builtins.filter (s: builtins.isString s && s != "") (builtins.split "[[:space:]]+" (toString features));
  namesOf = v: if v ? recurseForDerivations then builtins.filter (n: n != "recurseForDerivations") (builtins.attrNames v) else builtins.attrNames v;
  describeValue = opts: withExtras: let extrasFor = extrasOf opts; in isRoot: namesAt: v:
    if (v.type or null) == "derivation" then
      let
        extras = extrasFor v;
        described = [ 0 v.name (v.system or "unknown") (noContext v.drvPath)
          (if v ? outputs then builtins.concatMap (outputOf v) v.outputs else outputOf v "out")
          (if v ? requiredSystemFeatures then featuresOf v else [ ]) extras ];
      in if extras == null then described else withExtras extras described
    else if builtins.isAttrs v && (isRoot || opts.forceRecurse || (v.recurseForDerivations or false)) then [ 1 (namesAt v) ]
    else [ 2 ];
  keepExtras = extras: described: described;
  describe = opts: root: path: describeValue opts keepExtras (path == [ ]) namesOf (select root path);
  memoOf = v: { names = namesOf v; kids = builtins.mapAttrs (name: memoOf) v; };
  childOf = node: name: { inherit name; value = node.value.\${name}; memo = node.memo.kids.\${name}; };
  guardedOf = d: let tried = builtins.tryEval (builtins.deepSeq d d); in if tried.success then tried.value else [ 3 ];
  guarded = describeChild: item: guardedOf (describeChild (_: item.memo.names) item.value);
  walkedChildren = childAt: items: described: builtins.concatLists (builtins.genList (i:
    let d = builtins.elemAt described i; in
    if builtins.head d == 1 then map (childAt (builtins.elemAt items i)) (builtins.elemAt d 1) else [ ]) (builtins.length items));
  startOf = childAt: namesAt: root: units: builtins.concatMap (unit:
    let node = builtins.foldl' childAt root (builtins.elemAt unit 0); names = namesAt node; from = builtins.elemAt unit 1; in
    builtins.genList (i: childAt node (builtins.elemAt names (from + i))) (builtins.elemAt unit 2)) units;
  chunk = opts: root: budget: units:
    let
      start = startOf childOf (node: node.memo.names) root units;
      describeChild = describeValue opts keepExtras false;
      levels = count: items:
        let
          described = map (guarded describeChild) items;
          next = walkedChildren childOf items described;
          total = count + builtins.length next;
        in [ described ] ++ (if next != [ ] && total <= budget then levels total next else [ ]);
    in { names = map (item: item.name) start; levels = levels (builtins.length start) start; };
  sweep = opts: root: readOnly: marker: group: start:
    let
      describeRead = describeValue opts (extras: described:
        builtins.deepSeq extras (if readOnly && builtins.hasContext (builtins.toJSON extras) then [ 3 ] else described));
      describeChild = describeRead false namesOf;
      printedGroup = values: n: g:
        let
          count = if n - g * group < group then n - g * group else group;
          describedAt = i: describeChild (builtins.elemAt values (g * group + i));
          fast = builtins.genList describedAt count;
          tried = builtins.tryEval (builtins.toJSON fast);
          described = if tried.success then fast else builtins.genList (i: guardedOf (describedAt i)) count;
          json = if tried.success then tried.value else builtins.toJSON described;
        in builtins.seq (builtins.trace (marker + json) null) described;
      go = values:
        let
          n = builtins.length values;
          groups = builtins.genList (printedGroup values n) ((n + group - 1) / group);
        in if n == 0 then null
          else builtins.seq (builtins.foldl' (printed: described: builtins.seq described printed) null groups)
            (go (walkedChildren valueOf values (builtins.concatLists groups)));
      part = start.part;
      node = select root part.path;
      nodeDescribed = guardedOf (describeRead (part.path == [ ]) namesOf node);
      names = if builtins.head nodeDescribed == 1 then builtins.elemAt nodeDescribed 1 else [ ];
      mine = builtins.genList (j: node.\${builtins.elemAt names (part.part + j * part.parts)})
        (if builtins.length names > part.part then (builtins.length names - part.part + part.parts - 1) / part.parts else 0);
    in if start ? ranges then go (startOf valueOf namesOf root start.ranges)
      else builtins.seq (builtins.trace (marker + builtins.toJSON [ nodeDescribed ]) null) (go mine);
in { inherit autoCall select callLocked describe memoOf chunk sweep; }`;

/** Repl definitions, one per line (the repl reads one expression per line). */
export interface DescribeOptions {
  meta: boolean;
  forceRecurse: boolean;
  /** --select: applied to the root. */
  select?: string | undefined;
  /** --apply: applied to each derivation. */
  apply?: string | undefined;
}

/** One definition the repl and a sweep both make; `user` when its value holds the user's text. */
interface Definition {
  name: string;
  value: string;
  user?: boolean;
}

function definitions(input: ResolvedInput, autoArgs: readonly AutoArg[], opts: DescribeOptions): Definition[] {
  const args = autoArgs
    .map((a) => `${nixString(a.name)} = ${a.kind === 'string' ? nixString(a.value) : parenthesized(a.value)};`)
    .join(' ');
  const root = rootExpression(input);
  return [
    { name: '__evix', value: oneLine(HELPERS) },
    ...(input.kind === 'flake' ? [{ name: '__evixFlake', value: flakeExpression(input) }] : []),
    { name: '__evixOpts', value: `{ meta = ${opts.meta}; forceRecurse = ${opts.forceRecurse}; apply = ${opts.apply ? parenthesized(opts.apply) : 'null'}; }`, user: true },
    { name: '__evixArgs', value: `{ ${args} }`, user: true },
    { name: '__evixRoot', value: opts.select ? `${parenthesized(opts.select)} (${root})` : root, user: true },
    { name: '__evixTree', value: '{ value = __evixRoot; memo = __evix.memoOf __evixRoot; }' },
  ];
}

export function setupLines(input: ResolvedInput, autoArgs: readonly AutoArg[], opts: DescribeOptions): string[] {
  return [
    ...definitions(input, autoArgs, opts).map((d) => (d.user ? userBinding(d.name, d.value) : `${d.name} = ${d.value}`)),
    `_e = path: builtins.toJSON (__evix.describe __evixOpts __evixRoot path)`,
    `_c = budget: units: builtins.toJSON (__evix.chunk __evixOpts __evixTree budget units)`,
  ];
}

/** A root of the walk and which part of its children a sweep takes: the `part` WorkUnit's fields. */
export type SweepPart = Pick<Extract<WorkUnit, { kind: 'part' }>, 'path' | 'part' | 'parts'>;

/** What a sweep is asked for (see sweepExpression). */
export interface SweepRequest {
  /** Sibling ranges, or a part of a root: the attribute itself (described first, alone on its line) and every parts-th child from part. */
  start: { ranges: readonly SiblingRange[] } | { part: SweepPart };
  /** Evaluate without writing .drv files (see src/worker/sweep.ts); the answer's drvPaths must then be checked. */
  readOnly: boolean;
  /** Starts each line of the sweep's answer, so that the user's own traces cannot pass for one. */
  marker: string;
  /** Descriptions per line. */
  group: number;
}

/**
 * The whole program of a sweep: the same definitions as the repl's, then
 * `sweep`, which describes the ranges and every set it finds inside them,
 * level by level, printing each `group` descriptions as one trace line of
 * `marker` and a JSON list (trace is the only way a one-shot evaluation
 * can speak before it ends).
 */
export function sweepExpression(input: ResolvedInput, autoArgs: readonly AutoArg[], opts: DescribeOptions, request: SweepRequest): string {
  const bindings = definitions(input, autoArgs, opts).map((d) => `${d.name} = ${d.value};`);
  const { start } = request;
  const from =
    'ranges' in start
      ? `{ ranges = ${rangesList(start.ranges)}; }`
      : `{ part = { path = [${start.part.path.map(nixString).join(' ')}]; part = ${start.part.part}; parts = ${start.part.parts}; }; }`;
  return `let\n${bindings.join('\n')}\nin __evix.sweep __evixOpts __evixRoot ${request.readOnly} ${nixString(request.marker)} ${request.group} ${from}\n`;
}

/**
 * The root value. A file or expression root is auto-called; a flake is the
 * locked flake's outputs selected along the reference's attribute path, or
 * the flake itself without one.
 */
function rootExpression(input: ResolvedInput): string {
  switch (input.kind) {
    case 'file':
      return `__evix.autoCall (import ${nixString(input.path)}) __evixArgs`;
    case 'expr':
      return `__evix.autoCall ${parenthesized(input.expr)} __evixArgs`;
    case 'flake':
      // Without a fragment, the flake itself (outputs, inputs, sourceInfo), as nix-eval-jobs and the repl's :lf give it.
      return input.attrPath.length === 0 ? '__evixFlake' : `__evix.select __evixFlake.outputs ${nixStringList(input.attrPath)}`;
  }
}

function flakeExpression(input: Extract<ResolvedInput, { kind: 'flake' }>): string {
  return `__evix.callLocked (builtins.fromJSON ${nixString(input.lockJson)})`;
}

/**
 * For a flake, the request that fetches its source now (setup is lazy
 * otherwise): a worker that cannot fetch it (another machine, without the
 * checkout or the network) then fails setup saying so, and its work goes
 * to others, instead of failing the run at the root with whatever the
 * fetcher said (`program 'git' failed`).
 */
export const FETCH_FLAKE_SOURCE = 'builtins.seq __evixFlake.outPath null';

/**
 * The request for one attribute path: its description as a JSON string.
 * As short as Nix's grammar allows (`_e["a""b"]`), since the repl pays for
 * every byte of input (see ReplFramer).
 */
export function describeRequest(path: AttrPath): string {
  return `_e[${path.map(nixString).join('')}]`;
}

/** Consecutive children of the set at `parent`: `count` of them from index `from` of its attrs list. */
export interface SiblingRange {
  parent: AttrPath;
  from: number;
  count: number;
}

/**
 * The request for sibling ranges, walking inside the sets among them while
 * the answer stays within `budget` attributes. Its answer is the JSON of
 * ChunkDescription. A sibling is named by its index, so the request's length
 * does not grow with the names (see ReplFramer for why length matters).
 */
export function chunkRequest(ranges: readonly SiblingRange[], budget: number): string {
  return `_c ${budget} ${rangesList(ranges)}`;
}

function rangesList(ranges: readonly SiblingRange[]): string {
  return `[${ranges.map((r) => `[[${r.parent.map(nixString).join('')}]${r.from} ${r.count}]`).join('')}]`;
}

/** The kinds of Description, its first element. */
export const DESCRIBED = { drv: 0, walk: 1, skip: 2, retry: 3 } as const;

/** What a derivation carries beyond its identity, when asked for (--meta, --apply) or an aggregate. */
export interface DerivationExtras {
  meta?: Record<string, unknown>;
  extraValue?: unknown;
  constituents?: string[];
  namedConstituents?: string[];
  globConstituents?: boolean;
}

/**
 * What `describeValue` says of one attribute. A tuple, not a record: the
 * repl prints a chunk's answer byte by byte (about 50 ns each, a fifth of
 * a small attribute's cost when it was a record), and keys cost as much as
 * values. A derivation (its outputs as name, path, name, path, ...), a set
 * to walk into with its names, something to skip, or (in a chunk only) an
 * attribute whose evaluation threw, caught by tryEval, which loses the
 * message: ask for it alone.
 */
export type Description =
  | [kind: typeof DESCRIBED.drv, name: string, system: string, drvPath: string, outputs: string[], features: string[], extras: DerivationExtras | null]
  | [kind: typeof DESCRIBED.walk, names: string[]]
  | [kind: typeof DESCRIBED.skip]
  | [kind: typeof DESCRIBED.retry];

/**
 * What `chunk` answers: the names of the siblings asked for (so the caller
 * can check the evaluator's sets agree with its own), and their
 * descriptions level by level. Level 0 describes the siblings in order;
 * level k+1, when present, describes the children of every set of level k
 * to walk into, in order; a set's children either all follow or none do.
 */
export interface ChunkDescription {
  names: string[];
  levels: Description[][];
}

/**
 * An expression from the command line, in parentheses that close on a line
 * of their own, so a multi-line expression is read whole by the repl's
 * continuation and a trailing comment cannot swallow the closing parenthesis.
 */
function parenthesized(expr: string): string {
  return `(${expr}\n)`;
}

/**
 * A repl binding whose value holds the user's text, which may span lines.
 * Newer repls (Nix 2.34) do not wait for the rest of a `name = value` line
 * whose value is unfinished (they report `unexpected '='`), but every
 * version waits for the rest of a command's: `:a` adds the set's
 * attributes to the scope, as the binding would.
 */
function userBinding(name: string, value: string): string {
  return `:a { ${name} = ${value}; }`;
}

function oneLine(source: string): string {
  return source.trim().replace(/\n\s*/g, ' ');
}
