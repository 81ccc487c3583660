"""The Forge Custom UI pages (forge/static) in Debian's Chromium, talking to the real backend."""
