import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Authenticator, digestResponse, parseChallenges } from '../../src/rtsp/auth.js';

// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
const RFC7616 = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  method: 'GET',
  uri: '/dir/index.html',
  qop: 'auth',
  nc: '00000001',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
};

test('Digest responses match RFC 7616 §3.9.1 (MD5 and SHA-256)', () => {
  assert.equal(
    digestResponse({ ...RFC7616, algorithm: 'MD5' }),
    '8ca523f5e9506fed4657c9700eebdbec',
  );
  assert.equal(
    digestResponse({ ...RFC7616, algorithm: 'SHA-256' }),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
  assert.equal(digestResponse({ ...RFC7616, algorithm: 'SHA-512-256' }), undefined);
});

test('Digest without qop matches the RFC 2069 §2.4 example', () => {
  // RFC 2069's example: H(H(A1):nonce:H(A2)), password "CircleOfLife".
  const r = digestResponse({
    username: 'Mufasa',
    password: 'CircleOfLife',
    realm: 'testrealm@host.com',
    nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
    method: 'GET',
    uri: '/dir/index.html',
  });
  assert.equal(r, '1949323746fe6a43ef61f9606e7febea');
});

test('challenges: several in one header, quoted commas, the strongest is chosen', () => {
  const value =
    'Basic realm="a, b", Digest realm="r", nonce="n1", algorithm=MD5, qop="auth,auth-int", Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth"';
  const challenges = parseChallenges(value);
  assert.equal(challenges.length, 3);
  assert.equal(challenges[0]?.params.realm, 'a, b');
  assert.equal(challenges[2]?.params.algorithm, 'SHA-256');
  const auth = new Authenticator({ username: 'u', password: 'p' });
  assert.equal(auth.answer(value), undefined);
  const header = auth.header('DESCRIBE', 'rtsp://h/x') ?? '';
  assert.match(
    header,
    /^Digest username="u", realm="r", nonce="n2", uri="rtsp:\/\/h\/x", response="[0-9a-f]{64}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="[0-9a-f]{24}"$/,
  );
  assert.match(auth.header('PLAY', 'rtsp://h/x') ?? '', /nc=00000002/);
});

test('Basic header; unanswerable challenges say why', () => {
  const auth = new Authenticator({ username: 'Aladdin', password: 'open sesame' });
  assert.equal(auth.answer('Basic realm="x"'), undefined);
  assert.equal(auth.header('OPTIONS', '*'), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  const other = new Authenticator({ username: 'u', password: 'p' });
  assert.match(
    other.answer('Negotiate abc') ?? '',
    /no challenge this client implements \(offered: negotiate/,
  );
  assert.match(other.answer(undefined) ?? '', /no WWW-Authenticate/);
  assert.match(other.answer('Digest realm="r", nonce="n", qop="auth-int"') ?? '', /no challenge/);
});
