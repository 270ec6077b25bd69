# evix built with buildNpmPackage; the npm dependencies come from
# package-lock.json through importNpmLock, so no hash needs updating.
{ lib, buildNpmPackage, importNpmLock, nodejs_24, nix, makeWrapper }:

buildNpmPackage {
  pname = "evix";
  version = (lib.importJSON ../package.json).version;
  src = lib.cleanSource ../.;
  nodejs = nodejs_24;
  npmDeps = importNpmLock { npmRoot = ../.; };
  npmConfigHook = importNpmLock.npmConfigHook;
  # The `node` devDependency fetches a Node binary; nixpkgs provides Node.
  npmFlags = [ "--ignore-scripts" ];
  nativeBuildInputs = [ makeWrapper ];
  # The bins are launchers (scripts/bundle.ts) that run `node` from PATH
  # when no `node` package lies beside them, as here: the wrapper gives them
  # nixpkgs' Node 24, and Nix.
  postInstall = ''
    for bin in evix evixd evix-eval-jobs; do
      wrapProgram $out/bin/$bin --prefix PATH : ${lib.makeBinPath [ nix nodejs_24 ]}
    done
  '';
  meta = {
    description = "Evaluate Nix attribute sets in parallel, locally and across machines";
    license = lib.licenses.mit;
    mainProgram = "evix";
  };
}
