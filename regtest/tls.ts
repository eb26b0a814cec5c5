// A local certificate authority and a certificate signed by it for the regtest stack's tipd, so
// that https clients (LNURL wallets insist on https) can reach it: they trust the CA, given as
// NODE_EXTRA_CA_CERTS (Node.js) or to their own option. Made with the openssl command line, which
// Debian installs with ca-certificates. The key files stay in the stack's folder, readable by its
// owner only.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LocalTls {
  /** The CA's certificate (a PEM file): what clients trust. */
  caCert: string;
  /** tipd's certificate and key (PEM files), for localhost, tipd.localhost and 127.0.0.1. */
  cert: string;
  key: string;
}

/** The names tipd's certificate is valid for. */
export const tlsNames = ['localhost', 'tipd.localhost', '127.0.0.1'];

const openssl = async (...args: string[]) => {
  try {
    await run('openssl', args);
  } catch (err) {
    const error = err as NodeJS.ErrnoException & { stderr?: string };
    if (error.code === 'ENOENT')
      throw new Error('the regtest stack makes its TLS certificates with the openssl command: install it (apt-get install openssl)', { cause: err });
    throw new Error(`openssl ${args[0]} failed: ${error.stderr?.trim() ?? error.message}`, { cause: err });
  }
};

/** Makes a CA and tipd's certificate in `dir` (P-256 keys), once: an existing set is kept. */
export async function localTls(dir: string): Promise<LocalTls> {
  const files = { caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), cert: path.join(dir, 'tipd.crt'), key: path.join(dir, 'tipd.key') };
  if (![files.caCert, files.cert, files.key].every((file) => fs.existsSync(file))) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      files.caKey,
      '-out',
      files.caCert,
      '-days',
      '3650',
      '-subj',
      '/CN=tipd regtest CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    const csr = path.join(dir, 'tipd.csr');
    const extensions = path.join(dir, 'tipd.ext');
    const altNames = tlsNames.map((name) => (/^[\d.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
    fs.writeFileSync(extensions, `subjectAltName=${altNames}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
    await openssl('req', ...ec, '-keyout', files.key, '-out', csr, '-subj', '/CN=localhost');
    await openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      files.caCert,
      '-CAkey',
      files.caKey,
      '-CAcreateserial',
      '-out',
      files.cert,
      '-days',
      '825',
      '-extfile',
      extensions,
    );
    for (const file of [files.caKey, files.key]) fs.chmodSync(file, 0o600);
  }
  return { caCert: files.caCert, cert: files.cert, key: files.key };
}
