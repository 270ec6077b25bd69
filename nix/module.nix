# NixOS module: services.evix.worker runs `evix worker` (a remote worker for
# evix masters) as a system service; services.evix.daemon runs evixd as a
# user service for every user, on their own socket (/run/user/UID/evix.sock,
# where evix looks by default).
{ defaultPackage }:
{ config, lib, pkgs, ... }:
let
  cfg = config.services.evix;
  inherit (lib) mkEnableOption mkIf mkMerge mkOption optional optionals types escapeShellArgs;
  port = lib.toInt (lib.last (lib.splitString ":" cfg.worker.listen));
in
{
  options.services.evix = {
    package = mkOption {
      type = types.package;
      default = defaultPackage pkgs.stdenv.hostPlatform.system;
      description = "The evix package.";
    };
    worker = {
      enable = mkEnableOption "an evix worker serving evaluation to evix masters";
      listen = mkOption { type = types.str; default = "0.0.0.0:7357"; description = "HOST:PORT to listen on."; };
      tokenFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = "File with the token masters must prove they know (required off loopback unless insecure).";
      };
      insecure = mkOption { type = types.bool; default = false; description = "Allow a non-loopback address without a token."; };
      allowImpure = mkOption { type = types.bool; default = false; description = "Accept --impure and unrestricted files and expressions."; };
      maxConnections = mkOption { type = types.int; default = 16; description = "Connections served at once."; };
      maxMemory = mkOption { type = types.int; default = 4096; description = "Memory limit of each connection's evaluator, MiB."; };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open the port in the firewall."; };
      extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "More arguments for evix worker."; };
    };
    daemon = {
      enable = mkEnableOption "evixd for every user, keeping evaluated sessions warm";
      maxSessions = mkOption { type = types.int; default = 8; description = "Warm sessions kept."; };
    };
  };

  config = mkMerge [
    (mkIf cfg.worker.enable {
      systemd.services.evix-worker = {
        description = "evix worker";
        wantedBy = [ "multi-user.target" ];
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        path = [ config.nix.package ];
        serviceConfig = {
          ExecStart = "${cfg.package}/bin/evix worker " + escapeShellArgs (
            [ "--listen" cfg.worker.listen "--max-connections" (toString cfg.worker.maxConnections) "--max-memory" (toString cfg.worker.maxMemory) ]
            ++ optionals (cfg.worker.tokenFile != null) [ "--token-file" "%d/token" ]
            ++ optional cfg.worker.insecure "--insecure"
            ++ optional cfg.worker.allowImpure "--allow-impure"
            ++ cfg.worker.extraArgs
          );
          LoadCredential = optional (cfg.worker.tokenFile != null) "token:${cfg.worker.tokenFile}";
          DynamicUser = true;
          KillSignal = "SIGTERM";
          TimeoutStopSec = 120;
          Restart = "on-failure";
        };
      };
      networking.firewall.allowedTCPPorts = optional cfg.worker.openFirewall port;
    })
    (mkIf cfg.daemon.enable {
      systemd.user.services.evixd = {
        description = "evix daemon";
        wantedBy = [ "default.target" ];
        path = [ config.nix.package ];
        serviceConfig = {
          ExecStart = "${cfg.package}/bin/evixd --foreground " + escapeShellArgs [ "--max-sessions" (toString cfg.daemon.maxSessions) ];
          Restart = "on-failure";
        };
      };
    })
  ];
}
