// A tiny SMSC on npm `smpp`, driven by tests/integration/test_smpp_peers.py.
// stdout: one JSON object per line ({"event": "listening", "port": N} first).
// stdin: one JSON command per line: {"cmd": "mo", "source", "destination", "text"} | {"cmd": "drop"}.
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const sessions = new Set();
const pending = new Map(); // concatenation key -> {total, parts: Map(seq -> text)}
let nextId = 0x5000;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function textOf(value) {
  return value && typeof value === 'object' && 'message' in value ? String(value.message) : String(value || '');
}

function segmentOf(pdu) {
  const sm = pdu.short_message;
  if (sm && sm.udh) {
    for (const ie of sm.udh) {
      if (ie[0] === 0x00) return { ref: ie[2], total: ie[3], seq: ie[4] };
      if (ie[0] === 0x08) return { ref: (ie[2] << 8) | ie[3], total: ie[4], seq: ie[5] };
    }
  }
  if (pdu.sar_total_segments) {
    return { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
  }
  return null;
}

function receive(pdu) {
  const text = pdu.message_payload ? textOf(pdu.message_payload) : textOf(pdu.short_message);
  const seg = segmentOf(pdu);
  if (!seg || seg.total <= 1) {
    emit({ event: 'message', destination: pdu.destination_addr, text, parts: 1 });
    return;
  }
  const key = [pdu.source_addr, pdu.destination_addr, seg.ref, seg.total].join('|');
  const entry = pending.get(key) || { total: seg.total, parts: new Map() };
  entry.parts.set(seg.seq, text);
  pending.set(key, entry);
  if (entry.parts.size === entry.total) {
    pending.delete(key);
    let whole = '';
    for (let i = 1; i <= entry.total; i++) whole += entry.parts.get(i);
    emit({ event: 'message', destination: pdu.destination_addr, text: whole, parts: entry.total });
  }
}

function deliver(session, fields) {
  session.deliver_sm(fields, (resp) => emit({ event: 'deliver_resp', status: resp.command_status }));
}

const server = smpp.createServer((session) => {
  session.on('error', () => {});
  const bind = (resp) => (pdu) => {
    session.send(pdu.response({ system_id: 'npm-smpp' }));
    session.receiver = resp !== 'tx';
    sessions.add(session);
    emit({ event: 'bound', mode: resp, system_id: pdu.system_id });
  };
  session.on('bind_transceiver', bind('trx'));
  session.on('bind_transmitter', bind('tx'));
  session.on('bind_receiver', bind('rx'));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    sessions.delete(session);
    emit({ event: 'unbound' });
    session.close();
  });
  session.on('close', () => sessions.delete(session));
  session.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16);
    session.send(pdu.response({ message_id: id }));
    receive(pdu);
    if (pdu.registered_delivery & 1) {
      const receiver = [...sessions].find((s) => s.receiver) || session;
      deliver(receiver, {
        source_addr: pdu.destination_addr,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        short_message: 'id:' + id + ' sub:001 dlvrd:001 submit date:2401011200 done date:2401011200 stat:DELIVRD err:000 text:',
        receipted_message_id: id,
        message_state: 2,
      });
    }
  });
});

server.listen(0, '127.0.0.1', () => emit({ event: 'listening', port: server.address().port }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'drop') {
    for (const s of sessions) s.destroy();
    sessions.clear();
    emit({ event: 'dropped' });
  } else if (cmd.cmd === 'mo') {
    const receiver = [...sessions].find((s) => s.receiver);
    deliver(receiver, { source_addr: cmd.source, destination_addr: cmd.destination, short_message: cmd.text });
  }
}).on('close', () => process.exit(0));
