{
  description = "evix: evaluate Nix attribute sets in parallel, locally and across machines, as NDJSON";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        evix = pkgs.callPackage ./nix/package.nix { };
        default = evix;
      });

      apps = forAllSystems (pkgs: {
        default = { type = "app"; program = "${self.packages.${pkgs.system}.evix}/bin/evix"; };
        evixd = { type = "app"; program = "${self.packages.${pkgs.system}.evix}/bin/evixd"; };
        nix-eval-jobs = { type = "app"; program = "${self.packages.${pkgs.system}.evix}/bin/evix-eval-jobs"; };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell { packages = [ pkgs.nodejs_24 pkgs.nix pkgs.capnproto ]; };
      });

      # services.evix.worker (evix worker) and services.evix.daemon (evixd).
      nixosModules.default = import ./nix/module.nix { defaultPackage = system: self.packages.${system}.evix; };
    };
}
