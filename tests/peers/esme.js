// An ESME on npm `smpp`, driven by tests/integration/test_smpp_server_npm.py against
// Hirondelle's SMPP server. Usage: node esme.js PORT
// stdin: one JSON command per line:
//   {"cmd": "bind", "mode": "transceiver"|"transmitter"|"receiver", "system_id", "password"}
//   {"cmd": "submit", "destination", "text", "parts"?: N (split into N parts with an 8-bit UDH)}
//   {"cmd": "unbind"}
// stdout: one JSON event per line: bind / submit_resp / deliver / closed / error.
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const port = Number(process.argv[2]);
let ref = 0x42;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function textOf(value) {
  return value && typeof value === 'object' && 'message' in value ? String(value.message) : String(value || '');
}

const session = smpp.connect({ url: `smpp://127.0.0.1:${port}`, auto_enquire_link_period: 10000 });
session.on('error', (err) => emit({ event: 'error', message: String(err) }));
session.on('close', () => emit({ event: 'closed' }));
session.on('connect', () => emit({ event: 'connected' }));
session.on('deliver_sm', (pdu) => {
  emit({
    event: 'deliver',
    esm_class: pdu.esm_class,
    text: pdu.message_payload ? textOf(pdu.message_payload) : textOf(pdu.short_message),
    receipted_message_id: pdu.receipted_message_id || null,
    message_state: pdu.message_state === undefined ? null : pdu.message_state,
  });
  session.send(pdu.response());
});

function submit(cmd) {
  const parts = cmd.parts || 1;
  const chars = Array.from(cmd.text);
  const size = Math.ceil(chars.length / parts);
  ref = (ref + 1) & 0xff;
  for (let i = 0; i < parts; i++) {
    const piece = chars.slice(i * size, (i + 1) * size).join('');
    const short_message = parts === 1
      ? piece
      : { udh: Buffer.from([5, 0, 3, ref, parts, i + 1]), message: piece };
    session.submit_sm({
      source_addr: cmd.source || '',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: cmd.destination,
      registered_delivery: 1,
      short_message,
    }, (resp) => emit({
      event: 'submit_resp', status: resp.command_status, message_id: resp.message_id || '',
      part: i + 1, parts, data_coding: null,
    }));
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'bind') {
    session['bind_' + cmd.mode]({ system_id: cmd.system_id, password: cmd.password }, (pdu) => {
      emit({ event: 'bind', status: pdu.command_status });
    });
  } else if (cmd.cmd === 'submit') {
    submit(cmd);
  } else if (cmd.cmd === 'unbind') {
    session.unbind(() => { session.close(); process.exit(0); });
  }
});
