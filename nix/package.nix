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
  postInstall = ''
    for bin in evix evixd evix-eval-jobs; do
      wrapProgram $out/bin/$bin --prefix PATH : ${lib.makeBinPath [ nix ]}
    done
  '';
  meta = {
    description = "Evaluate Nix attribute sets in parallel, locally and across machines";
    license = lib.licenses.mit;
    mainProgram = "evix";
  };
}
