import { createTransport } from 'nodemailer';
import { createMailer } from '../src/mailer.js';
import smtpTransport from '../src/transports/smtp.js';
import { startSinkChild } from './common.js';
const mode = process.argv[2];
const sink = await startSinkChild();
const paragraph = 'Hello, your order has shipped and is on its way. Track it any time from your account page. ';
const text = paragraph.repeat(11).slice(0, 950);
const html = `<html><body><p>${text.slice(0, 900)}</p></body></html>`;
const N = 5000;
const msgs = Array.from({ length: N }, (_, i) => ({ from: 'Shop <orders@shop.example.com>', to: `customer${i}@shop${i % 10}.example`, subject: `Order ${i}`, text, html }));
for (let round = 0; round < 2; round++) {
  const t0 = performance.now();
  if (mode === 'raw') {
    const pool = createTransport({ pool: true, host: sink.host, port: sink.port, maxConnections: 5, maxMessages: 100, ignoreTLS: true });
    await Promise.all(msgs.map((m) => pool.sendMail(m)));
    pool.close();
  } else {
    const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port, maxConnections: 5, maxMessages: 100, ignoreTLS: true }) });
    mailer.on('sent', () => {});
    for (const m of msgs) await mailer.send(m);
    await mailer.onIdle();
    await mailer.close();
  }
  console.log(mode, round, (N / (performance.now() - t0) * 1000).toFixed(0), 'msg/s', 'cpu', process.cpuUsage());
}
await sink.close();
