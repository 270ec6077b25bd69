# Evaluates nix/module.nix against a stub of the NixOS module system: just
# enough of lib (options with defaults, mkIf, mkMerge, list helpers) to turn
# `settings` into the config the module produces. The inputs of the flake
# (nixpkgs) cannot be fetched here; this checks the module's own logic.
{ settings }:
let
  isOption = v: builtins.isAttrs v && v ? _option;
  lib = rec {
    types = { str = "str"; bool = "bool"; int = "int"; path = "path"; package = "package"; nullOr = _: "nullOr"; listOf = _: "listOf"; };
    mkOption = declaration: declaration // { _option = true; };
    mkEnableOption = description: mkOption { type = types.bool; default = false; inherit description; };
    mkIf = cond: value: { _type = "if"; inherit cond value; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'${a}'") args);
    toInt = builtins.fromJSON;
    last = list: builtins.elemAt list (builtins.length list - 1);
    splitString = sep: s: builtins.filter builtins.isString (builtins.split sep s);
    recursiveUpdate = a: b: a // builtins.mapAttrs (n: v: if builtins.isAttrs v && builtins.isAttrs (a.${n} or null) then recursiveUpdate a.${n} v else v) b;
  };
  module = import ../../nix/module.nix { defaultPackage = system: "/nix/store/evix-for-${system}"; };
  pkgs = { stdenv.hostPlatform.system = "x86_64-linux"; };
  resolve = declarations: set: builtins.mapAttrs (name: d: if isOption d then set.${name} or d.default else resolve d (set.${name} or { })) declarations;
  evaluated = module { inherit config lib pkgs; };
  config = {
    services.evix = resolve evaluated.options.services.evix (settings.services.evix or { });
    nix.package = "/nix/store/nix";
  };
  realize = v:
    if builtins.isAttrs v && (v._type or null) == "if" then (if v.cond then realize v.value else { })
    else if builtins.isAttrs v && (v._type or null) == "merge" then builtins.foldl' lib.recursiveUpdate { } (map realize v.contents)
    else if builtins.isAttrs v then builtins.mapAttrs (_: realize) v
    else v;
in
realize evaluated.config
