#!/bin/sh
# The main job, until the host agent exists: boots the test guest (testos,
# counting every 100 ms on 2 vCPUs) in vireo-vmm with its console on this
# terminal and its control socket at $VIREO_DEMO_SOCK.
set -eu
build=${1:-build}
sock=${VIREO_DEMO_SOCK:-/tmp/vireo-demo.sock}
cat <<MSG
vireo-vmm: booting testos (counter mode, 2 vCPUs, 128 MiB).
  console: this terminal (ctrl-a x quits)
  control: $sock, one JSON request per line, e.g.
           echo '{"cmd":"stats"}' | python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect("$sock"); s.sendall(sys.stdin.buffer.read()); print(s.recv(65536).decode())'
MSG
exec "$build/vmm/vireo-vmm" --name demo --kernel "$build/guest/testos/testos.elf" \
	--cmdline "counter" --cpus 2 --mem 128 --api-sock "$sock"
