#!/usr/bin/env python3
"""
What the shape of a managed Secret costs a real API server: N server-side applies of Secrets
holding the same token, 16 at once, in a fresh namespace per shape, and kube-apiserver's and
etcd's CPU over them (`bench_peer.py`'s own accounting), for:

  ours   this operator's Secret: two labels (managed-by, token-name) and six annotations
         (token-uid, token-id, issued-at, expires-at, spec-hash, credentials-hash);
  three  the same with three annotations (token-id, expires-at, spec-hash);
  one    the six values in one JSON annotation;
  peer   go-peer's Secret: one label, one annotation (a spec hash).

No ownerReference (no garbage collector work); the shapes rotate in order between rounds.

  KUBECONFIG=/root/real-cluster/kubeconfig python benches/real-cluster/secret_shape.py \
      --kit ../shared/real-cluster/bench -n 3000 --rounds 3

Prints one line per shape and round, then the mean per Secret of each shape; needs what
bench_peer.py needs (its requirements.txt).
"""
import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
import uuid

TOKEN = base64.b64encode(b'x' * 260).decode()     # the size of a signed VideoSDK token
SHAPES = ['ours', 'three', 'one', 'peer']


def secret(name: str, shape: str) -> dict:
    hashes = {'videosdk.live/spec-hash': '59a90e9958767c63', 'videosdk.live/expires-at': '2026-12-08T21:39:36Z',
              'videosdk.live/token-id': str(uuid.uuid4())}
    six = {**hashes, 'videosdk.live/credentials-hash': '4058edaebc8e7f5e',
           'videosdk.live/issued-at': '2026-12-07T21:39:36Z', 'videosdk.live/token-uid': str(uuid.uuid4())}
    labels = {'app.kubernetes.io/managed-by': 'videosdk-token-operator', 'videosdk.live/token-name': name}
    annotations = {'ours': six, 'three': hashes, 'one': {'videosdk.live/token': json.dumps(six)}}.get(shape)
    if shape == 'peer':
        labels = {'app.kubernetes.io/managed-by': 'go-peer'}
        annotations = {'videosdk.live/spec-hash': 'd1b8d587e985b4847dafe00c914ba4f8'}
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'data': {'token': TOKEN},
            'metadata': {'name': name, 'labels': labels, 'annotations': annotations}}


async def apply_all(s, ns: str, n: int, shape: str):
    names = [f's-{i:05d}' for i in range(n)]

    async def worker():
        while names:
            name = names.pop()
            async with s.patch(f'/api/v1/namespaces/{ns}/secrets/{name}',
                               params={'fieldManager': 'secret-shape', 'force': 'true'},
                               data=json.dumps(secret(name, shape)),
                               headers={'Content-Type': 'application/apply-patch+yaml'}) as r:
                body = await r.read()
                if r.status not in (200, 201):
                    raise RuntimeError(f'apply {name} -> {r.status}: {body[:200]!r}')
    await asyncio.gather(*(worker() for _ in range(16)))


async def main(args):
    sys.path.insert(0, os.path.abspath(args.kit))
    from floor import Cluster                              # the kit's kubeconfig client
    from bench_peer import cpu_of, server_processes        # and its API server CPU accounting
    servers, per_secret = server_processes(), {shape: [] for shape in SHAPES}
    async with Cluster(None).session(limit=20) as s:
        for round_ in range(args.rounds):
            for shape in SHAPES[round_ % 4:] + SHAPES[:round_ % 4]:
                ns = f'secret-shape-{shape}-{int(time.time())}'
                async with s.post('/api/v1/namespaces', json={'metadata': {'name': ns}}) as r:
                    await r.read()
                await asyncio.sleep(2)
                cpu0, t0 = cpu_of(servers), time.monotonic()
                await apply_all(s, ns, args.n, shape)
                wall, cpu = time.monotonic() - t0, cpu_of(servers) - cpu0
                per_secret[shape].append(1000 * cpu / args.n)
                print(f'round {round_ + 1} {shape:5} n={args.n} wall={wall:.2f}s server_cpu={cpu:.2f}s '
                      f'per_secret_ms={per_secret[shape][-1]:.3f}', flush=True)
                async with s.delete(f'/api/v1/namespaces/{ns}') as r:
                    await r.read()
                await asyncio.sleep(args.pause)
    for shape in SHAPES:
        print(f'{shape:5} mean per Secret {statistics.mean(per_secret[shape]):.3f} ms of API server CPU '
              f'({statistics.mean(per_secret[shape]) / statistics.mean(per_secret["peer"]):.2f}x peer)')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kit', required=True, help="the real-cluster kit's bench/ folder (bench_peer.py)")
    ap.add_argument('-n', type=int, default=3000, help='Secrets per shape and round')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--pause', type=float, default=15, help="seconds after each namespace's deletion")
    asyncio.run(main(ap.parse_args()))
