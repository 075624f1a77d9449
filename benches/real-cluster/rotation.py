#!/usr/bin/env python3
"""
A credentials rotation of N tokens on a real API server: how long until every token is re-signed
with the new secret, what it costs the operator (CPU, peak RSS) and what it writes.

It uses the side-by-side benchmark of the real-cluster kit (`bench_peer.py` in
`shared/real-cluster/bench/`, passed as --kit) for everything but the rotation itself:

  1. a fresh namespace with an issuer and its credentials Secret, the operator started, a canary
     token Ready, then N tokens created at once and waited for (the bulk install, timed too);
  2. after --settle seconds (the Issued Events that follow Ready are posted), the credentials
     Secret gets a new `secret`, as `kubectl create secret ... --dry-run=client -o yaml |
     kubectl apply -f -` would write it;
  3. it lists the tokens every 0.5 s until every one is Ready with a new `status.tokenId`, then
     lists the Secrets and checks with PyJWT that each holds a token that verifies with the new
     secret (and no longer with the old);
  4. after --settle seconds more, the writes and reads the API server counted in the rotation's
     window (apiserver_request_total), the operator's CPU during it and its peak RSS.

  KUBECONFIG=/root/real-cluster/kubeconfig python benches/real-cluster/rotation.py \
      --kit ../shared/real-cluster/bench -n 5000 --settle 20 --crds crds \
      --operator "target/release/videosdk-token-operator run --namespace {namespace} --metrics-address 127.0.0.1:0"

Prints the result as JSON and a SUMMARY line; needs what bench_peer.py needs (its
requirements.txt: aiohttp, PyYAML, PyJWT, psutil).
"""
import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--kit', required=True, help="the real-cluster kit's bench/ folder (holds bench_peer.py)")
    ap.add_argument('-n', type=int, default=1000, help='number of tokens')
    ap.add_argument('--operator', required=True, help='operator command; "{namespace}" is substituted')
    ap.add_argument('--crds', action='append', help='server-side apply these CRDs first (repeatable)')
    ap.add_argument('--kubeconfig', help='default: $KUBECONFIG, then ~/.kube/config')
    ap.add_argument('--settle', type=float, default=10, help='seconds of quiet before and after the rotation')
    ap.add_argument('--timeout', type=float, default=900, help='seconds to wait for the install and the rotation')
    ap.add_argument('--create-concurrency', type=int, default=32)
    ap.add_argument('--json', help='also write the result as JSON to this file')
    return ap.parse_args()


async def rotate(bp, args) -> dict:
    import jwt   # PyJWT, from the kit's requirements

    cluster = bp.Cluster(args.kubeconfig)
    ns = f'rotation-{args.n}-{int(time.time())}'
    new_secret = bp.API_SECRET[::-1]
    res = {'n': args.n, 'namespace': ns, 'operator': args.operator}
    servers = bp.server_processes()
    op = None
    async with cluster.session(limit=args.create_concurrency + 4) as s:
        if args.crds:
            await bp.apply_crds(s, args.crds)
        await bp.setup_namespace(s, ns)
        await asyncio.sleep(3)
        try:
            op = bp.Operator(args.operator, ns, cluster.path, os.path.join(tempfile.gettempdir(), f'{ns}.log'))
            t = time.monotonic()
            await bp.create_tokens(s, ns, ['canary'], 1)
            if (await bp.wait_ready(s, ns, 'canary', 1, t, args.timeout, on_poll=op.sample, interval=0.2))[0] is None:
                raise RuntimeError('the operator did not make the canary Ready')
            t = time.monotonic()
            await bp.create_tokens(s, ns, [f'tok-{i:05d}' for i in range(args.n)], args.create_concurrency)
            install, _ = await bp.wait_ready(s, ns, 'tok-', args.n, t, args.timeout, on_poll=op.sample)
            if install is None:
                raise RuntimeError(f'not all {args.n} tokens Ready in {args.timeout} s')
            res['install_all_ready_s'] = round(install, 2)
            await asyncio.sleep(args.settle)

            before_ids = {t['metadata']['name']: t['status']['tokenId']
                          for t in await bp.list_all(s, bp.tokens_path(ns)) if t['metadata']['name'].startswith('tok-')}
            before = await bp.request_counts(s)
            cpu0, srv0 = op.cpu_seconds(), bp.cpu_of(servers)
            t0 = time.monotonic()
            patch = {'stringData': {'secret': new_secret}}
            async with s.patch(f'/api/v1/namespaces/{ns}/secrets/creds', data=json.dumps(patch),
                               headers={'Content-Type': 'application/merge-patch+json'}) as r:
                await bp.check(r)

            async def rotated() -> int:
                items = await bp.list_all(s, bp.tokens_path(ns), {'resourceVersion': '0'})
                return sum(1 for t in items if t['metadata']['name'] in before_ids and bp.is_ready(t)
                           and (t.get('status') or {}).get('tokenId') != before_ids[t['metadata']['name']])
            done = 0
            while time.monotonic() - t0 < args.timeout:
                op.sample()
                done = await rotated()
                if done >= args.n:
                    break
                await asyncio.sleep(0.5)
            elapsed = time.monotonic() - t0
            res['rotated'] = done
            res['rotation_all_resigned_s'] = round(elapsed, 2) if done >= args.n else None

            secrets = await bp.list_all(s, f'/api/v1/namespaces/{ns}/secrets')
            verified = old_verifies = 0
            for sec in secrets:
                if not sec['metadata']['name'].startswith('tok-'):
                    continue
                raw = base64.b64decode(sec['data']['token']).decode()
                try:
                    jwt.decode(raw, new_secret, algorithms=['HS256'])
                    verified += 1
                except jwt.InvalidTokenError:
                    pass
                try:
                    jwt.decode(raw, bp.API_SECRET, algorithms=['HS256'])
                    old_verifies += 1
                except jwt.InvalidTokenError:
                    pass
            res['secrets_verifying_with_new_secret'] = verified
            res['secrets_verifying_with_old_secret'] = old_verifies

            await asyncio.sleep(args.settle)
            after = await bp.request_counts(s)
            op.sample()
            res['cpu_s'] = round(op.cpu_seconds() - cpu0, 2)
            res['server_cpu_s'] = round(bp.cpu_of(servers) - srv0, 2)
            res['peak_rss_mib'] = round(op.vm_hwm_kib() / 1024, 1)
            res.update(bp.write_summary(before, after, own_posts_tokens=0))
            res['writes'] -= 1   # the rotation's own PATCH of the credentials Secret
            res['operator_alive'] = op.alive()
        finally:
            if op:
                res['operator_exit'] = op.stop()
            res['cleaned_up'] = await bp.cleanup(s, ns)
    return res


def main():
    args = parse_args()
    sys.path.insert(0, os.path.abspath(args.kit))
    import bench_peer as bp   # noqa: E402  (the kit's helpers)

    res = asyncio.run(rotate(bp, args))
    print(json.dumps(res, indent=2))
    print(f"SUMMARY n={res['n']} install_all_ready_s={res.get('install_all_ready_s')} "
          f"rotation_all_resigned_s={res.get('rotation_all_resigned_s')} verified={res.get('secrets_verifying_with_new_secret')} "
          f"writes={res.get('writes')} cpu_s={res.get('cpu_s')} peak_rss_mib={res.get('peak_rss_mib')} "
          f"server_cpu_s={res.get('server_cpu_s')}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    ok = res.get('rotation_all_resigned_s') is not None and res.get('secrets_verifying_with_new_secret') == args.n \
        and res.get('secrets_verifying_with_old_secret') == 0
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
