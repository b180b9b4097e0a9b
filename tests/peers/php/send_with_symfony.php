<?php
// Send one SMS through the Symfony Notifier AllMySms bridge, as Debian packages it
// (php-symfony-all-my-sms-notifier), the way a Symfony application would.
//
//   php send_with_symfony.php DSN CAFILE PHONE TEXT
//
// DSN is allmysms://LOGIN:APIKEY@HOST:PORT?from=SENDER; CAFILE is the PEM certificate the HTTPS
// client trusts. Prints one JSON line: {"ok": true, "messageId": "..."} or
// {"ok": false, "class": "...", "message": "..."}; exits 0 either way (1 on bad usage).

require_once '/usr/share/php/Symfony/Component/Notifier/Bridge/AllMySms/autoload.php';

use Symfony\Component\HttpClient\HttpClient;
use Symfony\Component\Notifier\Bridge\AllMySms\AllMySmsTransportFactory;
use Symfony\Component\Notifier\Message\SmsMessage;
use Symfony\Component\Notifier\Transport\Dsn;

if ($argc !== 5) {
    fwrite(STDERR, "usage: php send_with_symfony.php DSN CAFILE PHONE TEXT\n");
    exit(1);
}
[, $dsn, $cafile, $phone, $text] = $argv;

$client = HttpClient::create(['cafile' => $cafile, 'timeout' => 30]);
$transport = (new AllMySmsTransportFactory(null, $client))->create(new Dsn($dsn));

try {
    $sent = $transport->send(new SmsMessage($phone, $text));
    $answer = ['ok' => true, 'messageId' => $sent->getMessageId(), 'transport' => (string) $transport];
} catch (Throwable $e) {
    $answer = ['ok' => false, 'class' => get_class($e), 'message' => $e->getMessage()];
}
echo json_encode($answer), "\n";
