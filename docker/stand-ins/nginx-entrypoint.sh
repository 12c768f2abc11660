#!/usr/bin/env bash
# Entry point of the nginx stand-in image (scripts/base-images.sh builds it from Debian's nginx and gettext-base
# when the official nginx image cannot be pulled). It keeps the official image's contract that
# docker-compose.yaml relies on: before `nginx ...` starts, every /etc/nginx/templates/**/*.template goes through
# envsubst into /etc/nginx/conf.d/ (the same relative path, without .template), replacing only the variables
# defined in the environment, so nginx's own $variables stay as written; any other command runs as given.
set -euo pipefail

render_templates() {
  local template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
  local suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
  local output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
  [ -d "$template_dir" ] || return 0
  local defined_envs template relative output
  # shellcheck disable=SC2016,SC2046  # '${NAME} ' per variable, as the official 20-envsubst-on-templates.sh
  defined_envs=$(printf '${%s} ' $(env | cut -d= -f1))
  while IFS= read -r template; do
    relative="${template#"$template_dir/"}"
    output="$output_dir/${relative%"$suffix"}"
    mkdir -p "$(dirname "$output")"
    echo "$0: running envsubst on $template to $output"
    envsubst "$defined_envs" < "$template" > "$output"
  done < <(find "$template_dir" -follow -type f -name "*$suffix" | sort)
}

if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
  render_templates
fi
exec "$@"
