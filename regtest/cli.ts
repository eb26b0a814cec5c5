// `npm run regtest:up` / `npm run regtest:down`: start or stop the local regtest stack with tipd.
import { down, stackOptions, up } from './stack.ts';

const command = process.argv[2];
try {
  if (command === 'up') {
    const stack = await up(stackOptions());
    const { hub, alice } = stack.nodes;
    console.log(`
tipd is running on the regtest stack.
  tipd          ${stack.tipd.url}   (operator token: ${stack.tipd.adminToken})
  health        curl ${stack.tipd.url}/healthz
  tipd (https)  ${stack.tipd.publicUrl}   (curl --cacert ${stack.tipd.caCert}; Node.js clients: NODE_EXTRA_CA_CERTS=${stack.tipd.caCert})
  pages         ${stack.tipd.publicUrl}/   (in a browser: the home page, /@<handle> to tip, /@<handle>/claim; the certificate is the stack's own CA)
  stack         ${stack.dataDir}/stack.json   (every node's socket, cert, macaroon, pubkey)
  logs          ${stack.logs}/
  hub's lncli   ${hub.lncli} getinfo
  alice's lncli ${alice.lncli} getinfo
  mine a block  ${stack.btcd.btcctl} generate 1
  X API (local) ${stack.x.url}   (tipd's app token: ${stack.x.appToken})
  post a tweet  curl -X POST ${stack.x.url}/2/tweets -H 'Authorization: Bearer user:carol' -d '{"text":"hello"}'
  LN address    ${stack.lightningAddresses.map((a) => `${a.address} (a creator's wallet: paid into ${a.node}'s LND)`).join(', ')}
Stop it all with: npm run regtest:down`);
  } else if (command === 'down') {
    await down(stackOptions().dataDir);
    console.log('regtest stack stopped');
  } else {
    console.error('usage: node regtest/cli.ts up|down');
    process.exitCode = 2;
  }
} catch (err) {
  console.error(`regtest ${command}: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
