<?php
// The peer of bench/run: a webhook receiver as a merchant's developer would
// write it in PHP for the same deliveries -- check the signature, then in
// one transaction record the event and upsert the state row, with PDO
// pgsql and prepared statements. It writes payhook's own tables (so the
// database does the same kind of work) but none of payhook's functions.
//
// URL: .../receiver.php/nicepay or .../receiver.php/steppay-v2
// Settings (environment): PEER_DSN (PDO DSN), PEER_USER, PEER_NICEPAY_KEY,
// PEER_STEPPAY_SECRET, PEER_PERSISTENT (1: PDO::ATTR_PERSISTENT, reusing
// the connection across requests of one PHP-FPM process).

function reply(int $status, string $body): void
{
    http_response_code($status);
    header('Content-Type: text/plain');
    echo $body;
    exit;
}

function env(string $name): string
{
    $v = getenv($name);
    if ($v === false || $v === '') {
        reply(503, "not configured\n");
    }
    return $v;
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    reply(405, "POST only\n");
}
$endpoint = trim($_SERVER['PATH_INFO'] ?? '', '/');
$body = file_get_contents('php://input');
if ($body === false || strlen($body) > 1048576) {
    reply(413, "too large\n");
}
$json = json_decode($body, true);
if (!is_array($json)) {
    reply(400, "bad json\n");
}

$state = null; // [table, key column, key, version, columns]
if ($endpoint === 'nicepay') {
    $key = env('PEER_NICEPAY_KEY');
    foreach (['tid', 'amount', 'ediDate', 'signature', 'status'] as $f) {
        if (!isset($json[$f])) {
            reply(400, "missing $f\n");
        }
    }
    $expect = hash('sha256', $json['tid'] . $json['amount'] . $json['ediDate'] . $key);
    if (!hash_equals($expect, (string)$json['signature'])) {
        reply(401, "bad signature\n");
    }
    $provider = 'nicepay';
    $event = (string)$json['status'];
    $state = ['payments', 'payment_key', (string)$json['tid'], (string)$json['ediDate'], [
        'order_id' => $json['orderId'] ?? null,
        'status' => $event,
        'amount' => $json['amount'],
        'balance_amount' => $json['balanceAmt'] ?? null,
        'paid_at' => ($json['paidAt'] ?? '0') !== '0' ? $json['paidAt'] : null,
    ]];
} elseif ($endpoint === 'steppay-v2') {
    $secret = env('PEER_STEPPAY_SECRET');
    $sig = $_SERVER['HTTP_STEPPAY_SIGNATURE'] ?? '';
    if (!preg_match('/^timestamp=(\d+),key=(.+)$/', $sig, $m)) {
        reply(401, "no signature\n");
    }
    $mac = base64_encode(hash_hmac('sha256', $m[1] . '.' . $body, $secret, true));
    if (!hash_equals($mac, $m[2])) {
        reply(401, "bad signature\n");
    }
    $provider = 'steppay';
    $event = (string)($json['event'] ?? '');
    $d = $json['data'] ?? [];
    $version = sprintf('%012d', $json['timestamp'] ?? 0);
    if (strncmp($event, 'order.', 6) === 0) {
        $state = ['orders', 'order_id', (string)$d['id'], ($d['modifiedAt'] ?? '') . '|' . $version, [
            'code' => $d['code'] ?? null,
            'paid_amount' => $d['paidAmount'] ?? null,
            'product_name' => $d['productName'] ?? null,
            'data' => json_encode($d, JSON_UNESCAPED_UNICODE),
        ]];
    } elseif (strncmp($event, 'subscription.', 13) === 0) {
        $state = ['subscriptions', 'subscription_id', (string)$d['subscriptionId'], $version, [
            'status' => $d['status'] ?? null,
            'data' => json_encode($d, JSON_UNESCAPED_UNICODE),
        ]];
    } elseif (strncmp($event, 'payment.', 8) === 0) {
        $state = ['payments', 'payment_key', (string)$d['paymentId'], $version, [
            'order_id' => isset($d['orderId']) ? (string)$d['orderId'] : null,
            'status' => $d['status'] ?? null,
            'amount' => $d['paidAmount'] ?? null,
            'data' => json_encode($d, JSON_UNESCAPED_UNICODE),
        ]];
    }
} else {
    reply(404, "no such endpoint\n");
}

try {
    $db = new PDO(env('PEER_DSN'), env('PEER_USER'), null, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_PERSISTENT => getenv('PEER_PERSISTENT') === '1',
    ]);
    $db->beginTransaction();
    $ins = $db->prepare('INSERT INTO payhook.webhook_events
            (provider, endpoint, event_type, dedupe_key, body_sha256, body_length, payload,
             signature_valid, remote_addr, outcome)
        VALUES (?, ?, ?, ?, ?, ?, ?, true, ?, \'applied\')
        ON CONFLICT (provider, dedupe_key)
            WHERE dedupe_key IS NOT NULL AND outcome NOT IN (\'rejected\', \'failed\')
            DO NOTHING
        RETURNING id');
    $sha = hash('sha256', $body);
    $ins->execute([$provider, $endpoint, $event, $sha, $sha, strlen($body), $body,
        $_SERVER['REMOTE_ADDR'] ?? null]);
    $id = $ins->fetchColumn();
    if ($id === false) {
        $db->prepare('UPDATE payhook.webhook_events SET delivery_count = delivery_count + 1,
                last_received_at = now() WHERE provider = ? AND dedupe_key = ?')
            ->execute([$provider, $sha]);
        $db->commit();
        reply(200, $provider === 'nicepay' ? 'OK' : "duplicate\n");
    }
    if ($state !== null) {
        [$table, $keycol, $key, $version, $cols] = $state;
        $names = array_keys($cols);
        $sql = "INSERT INTO payhook.$table AS t (provider, $keycol, version, source_sha256, "
            . implode(', ', $names) . ') VALUES (?, ?, ?, ?'
            . str_repeat(', ?', count($names)) . ") ON CONFLICT (provider, $keycol) DO UPDATE SET "
            . 'version = EXCLUDED.version, source_sha256 = EXCLUDED.source_sha256, updated_at = now()';
        foreach ($names as $n) {
            $sql .= ", $n = EXCLUDED.$n";
        }
        $sql .= ' WHERE t.version IS NULL OR t.version < EXCLUDED.version';
        $db->prepare($sql)->execute(array_merge([$provider, $key, $version, $sha],
            array_values($cols)));
    }
    $db->commit();
} catch (PDOException $e) {
    error_log('receiver: ' . $e->getMessage());
    reply(503, "database error\n");
}
reply(200, $provider === 'nicepay' ? 'OK' : "applied\n");
