#!/bin/bash
# Regenerate config.toml.example from the embedded defaults: every key, commented out.
cd "$(dirname "$0")/.."
{
  echo "# trademon configuration example. Every key is shown with its default, commented out."
  echo "# Copy to the platform config dir (trademon config --print shows the effective config):"
  echo "#   Linux: ~/.config/trademon/config.toml    or pass --config PATH"
  echo "# Any key can also be set by environment: TRADEMON_<SECTION>__<KEY>, e.g."
  echo "#   TRADEMON_CLIENT__PING_INTERVAL_MS=3000. Flags override both. See docs/config.md."
  echo
  tail -n +3 assets/default-config.toml | while IFS= read -r line; do
    if [[ -z "$line" || "$line" == \#* ]]; then echo "$line"; else echo "# $line"; fi
  done
} > config.toml.example
