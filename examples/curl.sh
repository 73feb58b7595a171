#!/usr/bin/env sh
# curl against a meshgate node (default http://127.0.0.1:8930). Set MESHGATE_TOKEN when the node requires one.
URL=${MESHGATE_URL:-http://127.0.0.1:8930}
AUTH=${MESHGATE_TOKEN:+-H "Authorization: Bearer $MESHGATE_TOKEN"}

curl -s "$URL/health"; echo
curl -s "$URL/v1/models" $AUTH; echo
curl -s "$URL/v1/chat/completions" $AUTH -H 'content-type: application/json' \
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}'; echo
curl -sN "$URL/v1/messages" $AUTH -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hello!"}]}'; echo
