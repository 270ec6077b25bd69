# A small job set: `evix eval --file examples/jobs.nix --workers 2`
{ system ? "x86_64-linux" }:
let
  job = name: derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo ${name} > $out" ]; };
in
{
  hello = job "hello";
  world = job "world";
  tools = {
    recurseForDerivations = true;
    formatter = job "formatter";
    linter = job "linter";
  };
  broken = throw "this job is broken";
  notWalked = { hidden = job "hidden"; };
}
