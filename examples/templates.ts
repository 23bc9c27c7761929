/**
 * mailpush templates: an MJML statement template compiled once, sent personalised to a few
 * customers through a local SMTP sink, with the text part generated from the HTML; then what
 * a missing variable and a variable in a typed MJML attribute do.
 *
 * Run: npx tsx examples/templates.ts
 */

import { createMailer, isMailError, smtpTransport } from '../src/index.js';
import { compileTemplate } from '../src/templates/index.js';
import { startSmtpSink } from '../src/testing/index.js';

const STATEMENT = `<mjml>
  <mj-head><mj-preview>Your statement for {{month}}</mj-preview></mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="18px"><h2>Hello {{customer.name}},</h2></mj-text>
        <mj-text>Your balance on {{month}}: <b>{{balance}}</b>.</mj-text>
        <mj-raw>{{{notice}}}</mj-raw>
        <mj-button href="{{url}}">See the details</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

const sink = await startSmtpSink({ parse: true });
const mailer = createMailer({ transport: smtpTransport({ host: sink.host, port: sink.port, ignoreTLS: true }) });
try {
  const t0 = performance.now();
  const statement = await compileTemplate({ subject: '{{month}} statement for {{customer.name}}', mjml: STATEMENT });
  console.log(`mailpush templates: compiled once in ${(performance.now() - t0).toFixed(0)} ms; variables: ${statement.variables.join(', ')}`);

  const customers = [
    { email: 'ann@example.org', name: 'Ann', balance: '1,204.50 €', notice: '' },
    { email: 'bob@example.net', name: 'Bob & <Sons>', balance: '-35.00 €', notice: '<p style="color:#b00">Your account is overdrawn.</p>' },
    { email: 'cy@example.com', name: 'Cy', balance: '0.00 €', notice: '' },
  ];
  const result = await mailer.sendMany(
    customers.map((c) => ({
      from: 'Bank <statements@bank.example>',
      to: { address: c.email, name: c.name },
      template: statement,
      // The raw notice is trusted HTML from our own code, never user input.
      vars: { month: 'November', customer: { name: c.name }, balance: c.balance, notice: c.notice, url: `https://bank.example/s/${c.email.length}` },
    })),
  );
  await mailer.onIdle();
  await sink.waitFor(result.queued);
  console.log(`sent ${result.queued} personalised statements; the sink received ${sink.count}:`);
  for (const m of sink.messages) {
    const p = m.parsed!;
    const firstLines = (p.text ?? '').split('\n').filter((l) => l.trim() !== '').slice(1, 3).join(' | ');
    console.log(`  ${m.envelope.to[0]}: "${p.subject}" / text: ${firstLines}`);
  }
  const bob = sink.messages.find((m) => m.envelope.to[0] === 'bob@example.net')!.parsed!;
  console.log(`escaped in the HTML: ${bob.html && bob.html.includes('Hello Bob &amp; &lt;Sons&gt;,') ? 'yes' : 'NO'}; raw notice kept: ${bob.html && bob.html.includes('<p style="color:#b00">') ? 'yes' : 'NO'}`);

  try {
    await mailer.send({ from: 'statements@bank.example', to: 'dee@example.org', template: statement, vars: { month: 'November' } });
  } catch (err) {
    if (isMailError(err)) console.log(`a missing variable: ${err.code}: ${err.message}`);
  }
  try {
    await compileTemplate({ subject: 'x', mjml: STATEMENT.replace('background-color="#ffffff"', 'background-color="{{brand}}"') });
  } catch (err) {
    if (isMailError(err)) console.log(`a variable in a typed attribute: ${err.code}: ${err.message.split(' - ')[0]}`);
  }
} finally {
  const closed = await mailer.close();
  await sink.close();
  console.log(`Mailer closed cleanly (${closed.pending} jobs left).`);
}
