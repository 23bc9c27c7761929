import { connect } from 'node:net';
import { startSinkChild } from './common.js';
const child = await startSinkChild();
for (let k = 0; k < 5; k++) {
  const t0 = performance.now();
  await new Promise<void>((res) => { const s = connect(child.port, child.host); s.once('connect', () => console.log(' connect', (performance.now() - t0).toFixed(1))); s.once('data', () => { console.log('greeting', (performance.now() - t0).toFixed(1)); s.destroy(); res(); }); });
}
await child.close();
