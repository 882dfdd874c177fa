-- Outbox leases with an owner: a worker claims rows under a token of its own, renews their
-- lease while it works on them (a heartbeat), and every write that ends a claim (sent, retry,
-- give up, fall back…) is guarded by that token, so a worker whose lease was taken over can
-- neither send the message again nor record it.
ALTER TABLE notifications ADD COLUMN lease text;
