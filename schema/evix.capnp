# The wire protocol between an evix master and `evix worker --listen`.
# One Cap'n Proto message per frame (standard stream framing). See
# docs/protocol.md for the conversation.
@0xb5a20680277dcfbf;

# The protocol version both sides send is PROTOCOL_VERSION in
# src/protocol/codec.ts (capnp-es does not generate constants); a change
# to the messages below that an older peer cannot read raises it.

# --- server -> client ------------------------------------------------------

struct ServerMessage {
  union {
    hello @0 :Hello;          # first message on every connection
    ready @1 :Ready;          # setup accepted: the worker takes Work
    event @2 :WorkEvent;      # the answer to one Work
    status @3 :WorkStatus;    # follows each WorkEvent
    error @4 :Text;           # the connection is refused or ends; text says why
    pong @5 :UInt64;          # answers a ping
    want @6 :List(Text);      # after Setup: the shipped sources (store
                              # paths of Config.sources) this worker lacks,
                              # in the order it wants them; empty when it
                              # has them all. Ready or Error follows.
  }
}

struct Hello {
  protocolVersion @0 :UInt32;
  nonce @1 :Data;             # fresh random bytes the client must sign
}

struct Ready {
  proof @0 :Data;             # HMAC proving the server knows the token too
}

struct WorkEvent {
  id @0 :UInt64;              # the Work it answers
  events @1 :List(Event);     # every result of its chunk, in order: one per
                              # attribute the Work named, then those of
                              # children the worker walked itself (see
                              # Event.childrenAnswered and src/work.ts); an
                              # answer too large for one frame continues in
                              # further WorkEvents of the same id
}

struct WorkStatus {
  id @0 :UInt64;
  state @1 :State;
  enum State {
    ready @0;                 # the evaluator takes more work
    restart @1;               # the evaluator was replaced (memory limit) after this chunk
  }
}

struct Event {
  attrPath @0 :List(Text);
  attr @5 :Text;              # attrPath as the event prints it
  union {
    derivation @1 :Derivation;
    attrset @2 :List(Text);   # children to walk
    error @3 :Text;
    skip @4 :Void;            # neither a derivation nor a set to walk
  }
  childrenAnswered @6 :Bool;  # attrset: the worker walked its children and
                              # their results follow in the same WorkEvent,
                              # so the master must not ask for them
}

struct Derivation {
  name @0 :Text;
  system @1 :Text;
  drvPath @2 :Text;
  outputs @3 :List(Entry);
  metaJson @4 :Text;          # JSON object; empty when meta was not asked for
  inputDrvs @5 :List(InputDrv);
  hasInputDrvs @6 :Bool;
  constituents @7 :List(Text);
  namedConstituents @8 :List(Text);
  isAggregate @9 :Bool;
  requiredSystemFeatures @10 :List(Text);
  extraValueJson @11 :Text;   # JSON of --apply's result; empty without --apply
  globConstituents @12 :Bool;
}

struct InputDrv {
  drvPath @0 :Text;
  outputs @1 :List(Text);
}

struct Entry {
  key @0 :Text;
  value @1 :Text;
}

# --- client -> server ------------------------------------------------------

struct ClientMessage {
  union {
    setup @0 :Setup;
    work @1 :Work;
    shutdown @2 :Void;
    ping @3 :UInt64;          # liveness check while waiting on a silent peer
    source @4 :SourcePart;    # the NAR of a source the worker wanted
  }
}

# A piece of the NAR serialisation of one wanted source, in order; the
# worker checks the whole against Source.narHash and the store path before
# it imports it. Parts of one source are sent back to back, sources in the
# order of Want.
struct SourcePart {
  storePath @0 :Text;
  data @1 :Data;              # at most SOURCE_PART_BYTES (codec.ts)
  last @2 :Bool;              # the source's NAR ends with this part
}

struct Setup {
  protocolVersion @0 :UInt32;
  nonce @1 :Data;             # the client's fresh random bytes
  mac @2 :Data;               # HMAC-SHA256(token, transcript), see src/protocol/auth.ts
  config @3 :Data;            # a framed Config message: the MAC covers these exact bytes
}

struct Work {
  id @0 :UInt64;
  units @1 :List(WorkUnit);   # a chunk: at most 4096 attributes, see
                              # MAX_CHUNK_ATTRIBUTES in src/protocol/codec.ts
  budget @2 :UInt32;          # the most results the answer may hold: the
                              # worker walks into sets of the chunk within
                              # it (at most MAX_CHUNK_ATTRIBUTES too)
}

struct WorkUnit {
  union {
    path @0 :List(Text);      # one attribute by its path: a root of the walk
    siblings @1 :Siblings;
    part @2 :Part;
  }
}

# A part of the set at `path`, the root of the walk, as the walk starts when
# every worker sweeps: the worker describes the set (part 0 answers it), takes
# its children part, part + parts, ... and walks everything under them in one
# pass. Its answer has no bound the master sets, so it may come as several
# WorkEvents before the WorkStatus.
struct Part {
  path @0 :List(Text);
  part @1 :UInt32;
  parts @2 :UInt32;
}

# Consecutive children of one set: names[i] is child from + i of the attrs
# list its attrset Event carried. The names travel too, so the worker can
# check that its set agrees.
struct Siblings {
  parent @0 :List(Text);
  from @1 :UInt32;
  names @2 :List(Text);
}

struct Config {
  input :union {
    file @0 :Text;
    expr @1 :Text;
    flake @2 :Flake;
  }
  autoArgs @3 :List(AutoArg);
  includePaths @4 :List(Text);
  nixOptions @5 :List(Entry);
  impure @6 :Bool;
  forceRecurse @7 :Bool;
  meta @8 :Bool;
  showInputDrvs @9 :Bool;
  showTrace @10 :Bool;
  maxMemoryMiB @11 :UInt32;
  select @12 :Text;           # --select function, empty for none
  apply @13 :Text;            # --apply function, empty for none
  sources @14 :List(Source);  # every store path the input reads, which
                              # the master ships to a worker that lacks
                              # it; the input names no other host path
}

# A content-addressed store path (a flake input's or a shipped directory's
# source), as `nix path-info` describes it.
struct Source {
  storePath @0 :Text;
  narHash @1 :Text;           # SRI, sha256: the store path is derived from it
  narSize @2 :UInt64;
}

struct Flake {
  lockedUrl @0 :Text;
  attrPath @1 :List(Text);
  lockJson @2 :Text;          # the lock graph the worker evaluates (see
                              # ResolvedInput.lockJson in src/config.ts)
}

struct AutoArg {
  name @0 :Text;
  isString @1 :Bool;          # --argstr rather than --arg
  value @2 :Text;
}
