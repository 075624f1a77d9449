#!/usr/bin/env python3
"""
What a token's status write costs a real API server, by how it is written: N VideoSdkTokens
created in a fresh namespace (the side-by-side benchmark's token), then two status writes of
each (an issuance's, then a renewal's), 16 at once, as

  apply  server-side apply of the status (field manager videosdk-token-operator, forced);
  merge  a JSON merge patch of the status, what the operator sends.

Each write asks for its answer as PartialObjectMetadata, as the operator does. The CRD is the
one installed (`kubectl apply --server-side -f crds/` for this operator's); the methods
alternate which goes first between rounds. kube-apiserver's and etcd's CPU over each phase is
bench_peer.py's own accounting.

  KUBECONFIG=/root/real-cluster/kubeconfig python benches/real-cluster/status_write.py \
      --kit ../shared/real-cluster/bench -n 2000 --rounds 2

Prints one line per phase, then the mean per request of each; needs what bench_peer.py needs
(its requirements.txt).
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid

METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1'
METHODS = ['apply', 'merge']


def status(name: str, write: int) -> dict:
    """A Ready status as the operator writes it; `write` changes its times and token id."""
    at = f'2026-12-08T01:0{write}:00Z'
    return {'observedGeneration': 1,
            'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'Issued',
                            'message': f'Secret {name} holds a valid token', 'lastTransitionTime': at,
                            'observedGeneration': 1}],
            'tokenId': str(uuid.uuid4()), 'notBefore': at, 'notAfter': '2026-12-09T01:00:00Z',
            'renewalTime': '2026-12-08T17:00:00Z', 'secretName': name}


def request(method: str, ns: str, name: str, write: int):
    """The body, Content-Type and query of one status write."""
    body = {'status': status(name, write)}
    if method == 'apply':
        body = {'apiVersion': 'videosdk.live/v1alpha1', 'kind': 'VideoSdkToken',
                'metadata': {'name': name, 'namespace': ns}, **body}
        return body, 'application/apply-patch+yaml', {'fieldManager': 'videosdk-token-operator', 'force': 'true'}
    return body, 'application/merge-patch+json', {'fieldManager': 'videosdk-token-operator'}


async def each(names: list, send, concurrency: int = 16):
    queue = list(names)

    async def worker():
        while queue:
            await send(queue.pop())
    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def main(args):
    sys.path.insert(0, os.path.abspath(args.kit))
    from floor import Cluster, tokens_path                 # the kit's kubeconfig client
    from bench_peer import cpu_of, server_processes, token_obj
    servers, per_request = server_processes(), {}
    names = [f'tok-{i:05d}' for i in range(args.n)]

    async with Cluster(None).session(limit=20) as s:
        async def measure(label: str, send):
            await asyncio.sleep(3)
            cpu0, t0 = cpu_of(servers), time.monotonic()
            await each(names, send)
            wall, cpu = time.monotonic() - t0, cpu_of(servers) - cpu0
            per_request.setdefault(label, []).append(1000 * cpu / args.n)
            print(f'{label:8} n={args.n} wall={wall:.2f}s server_cpu={cpu:.2f}s '
                  f'per_request_ms={per_request[label][-1]:.3f}', flush=True)

        for round_ in range(args.rounds):
            for method in METHODS[round_ % 2:] + METHODS[:round_ % 2]:
                ns = f'status-write-{method}-{int(time.time())}'
                async with s.post('/api/v1/namespaces', json={'metadata': {'name': ns}}) as r:
                    await r.read()

                async def create(name):
                    async with s.post(tokens_path(ns), json=token_obj(name)) as r:
                        body = await r.read()
                        if r.status != 201:
                            raise RuntimeError(f'create {name} -> {r.status}: {body[:200]!r}')
                await measure('create', create)
                for write in (1, 2):
                    async def send(name):
                        body, content_type, params = request(method, ns, name, write)
                        async with s.patch(tokens_path(ns, name, 'status'), params=params, data=json.dumps(body),
                                           headers={'Content-Type': content_type, 'Accept': METADATA_ONLY}) as r:
                            answer = await r.read()
                            if r.status != 200:
                                raise RuntimeError(f'{method} {name} -> {r.status}: {answer[:200]!r}')
                    await measure(f'{method}-{write}', send)
                async with s.delete(f'/api/v1/namespaces/{ns}') as r:
                    await r.read()
                await asyncio.sleep(args.pause)
    for label, values in per_request.items():
        print(f'{label:8} mean per request {statistics.mean(values):.3f} ms of API server CPU '
              f'({", ".join(f"{v:.3f}" for v in values)})')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kit', required=True, help="the real-cluster kit's bench/ folder (bench_peer.py)")
    ap.add_argument('-n', type=int, default=2000, help='tokens per method and round')
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--pause', type=float, default=15, help="seconds after each namespace's deletion")
    asyncio.run(main(ap.parse_args()))
