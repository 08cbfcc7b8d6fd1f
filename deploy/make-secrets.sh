#!/bin/sh
# Writes the secret files docker-compose.yml mounts (compose secrets), once: an existing file is
# kept. Folder: $CSP_SECRETS_DIR or ./secrets (git-ignored). Fill csp_partner_center_token and
# csp_callback_secrets with the real values before `docker compose up`.
set -eu
dir="${CSP_SECRETS_DIR:-./secrets}"
mkdir -p "$dir"
chmod 700 "$dir"
random() { python3 -c "import secrets; print(secrets.token_urlsafe($1))"; }
write() {
  [ -e "$dir/$1" ] && return 0
  printf '%s\n' "$2" > "$dir/$1"
  chmod 600 "$dir/$1"
  echo "wrote $dir/$1"
}
write csp_registry_password "$(random 24)"
write csp_token_secrets "$(random 48)"
write csp_payload_keys "k1:$(python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
write csp_codec_tokens "$(random 32)"
write grafana_admin_password "$(random 18)"
# Empty until filled in: no callback is accepted, Partner Center `http` mode cannot start.
write csp_callback_secrets ""
write csp_partner_center_token ""
