-- Runs after the snapshot, while the connector streams the WAL.

INSERT INTO customers (id, email, full_name, registration_date, balance, external_id, tags, ratio)
SELECT i, 'new' || i || '@example.com', 'New ' || i, timestamp '2024-05-01 10:00:00' + i * interval '1 minute', i * 1.01,
  gen_random_uuid(), ARRAY['new'], CASE WHEN i = 25 THEN 1.0 / 3 ELSE i / 8.0 END
FROM generate_series(21, 25) i;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at)
SELECT i, 21, date '2024-05-01', i * 2.5, 'new', timestamp '2024-05-01 11:00:00' + i * interval '1 second' FROM generate_series(41, 45) i;

-- TOAST: updates of other columns leave the TOASTed text unchanged, so
-- Debezium sends __debezium_unavailable_value for it.
UPDATE customers SET balance = 123.45 WHERE id = 100;
UPDATE customers SET status = 'vip', is_vip = true WHERE id = 100;
UPDATE customers SET email = 'toast2@example.com' WHERE id = 1;

-- several updates of the same row
UPDATE customers SET email = 'c3-a@example.com' WHERE id = 3;
UPDATE customers SET balance = balance + 100.25, preferences = preferences || '{"lang": "fr"}' WHERE id = 3;
UPDATE customers SET full_name = NULL, tags = ARRAY['changed'], session_length = interval '-1 day 2 hours' WHERE id = 3;

-- one transaction across the three tables, updating one row five times
BEGIN;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at) VALUES (46, 21, '2024-05-03', 46.00, 'new', '2024-05-03 09:00:00');
INSERT INTO order_settings (order_id, setting_key, setting_value, updated_at) VALUES (46, 'gift_wrap', 'yes', '2024-05-03 09:00:00.123+00'), (46, 'priority', 'high', '2024-05-03 09:00:00.124+00');
UPDATE customers SET balance = balance - 46.00 WHERE id = 21;
UPDATE orders SET status = 'shipped', shipped_at = '2024-06-01 08:00:00+02' WHERE order_id = 10;
UPDATE customers SET balance = 1 WHERE id = 4;
UPDATE customers SET balance = 2 WHERE id = 4;
UPDATE customers SET balance = 3, email = 'c4@example.com' WHERE id = 4;
UPDATE customers SET balance = 4 WHERE id = 4;
UPDATE customers SET balance = 5.55 WHERE id = 4;
COMMIT;

-- a TOASTed row inserted and updated in one transaction
BEGIN;
INSERT INTO customers (id, email, bio, registration_date, external_id) VALUES (102, 'toast102@example.com', (SELECT string_agg(md5((g * 7)::text), '') FROM generate_series(1, 600) g), '2024-05-04 00:00:00', gen_random_uuid());
UPDATE customers SET balance = 102.00 WHERE id = 102;
COMMIT;

-- deletes
DELETE FROM customers WHERE id = 7;
DELETE FROM orders WHERE order_id IN (5, 6);
DELETE FROM order_settings WHERE order_id = 3 AND setting_key = 'color';

-- primary-key changes, one of them on several rows, one back and forth
UPDATE customers SET id = 1008 WHERE id = 8;
UPDATE orders SET order_id = order_id + 1000 WHERE order_id IN (11, 12);
UPDATE order_settings SET setting_key = 'colour' WHERE order_id = 2 AND setting_key = 'color';
UPDATE customers SET id = 1010 WHERE id = 10;
UPDATE customers SET id = 10, email = 'back10@example.com' WHERE id = 1010;

-- a key deleted and inserted again with other values
DELETE FROM customers WHERE id = 9;
INSERT INTO customers (id, email, full_name, registration_date, balance, external_id) VALUES (9, 'reborn9@example.com', 'Reborn', '2024-05-05 05:05:05', 9.99, gen_random_uuid());

-- a rolled-back transaction leaves no trace
BEGIN;
UPDATE customers SET email = 'rolled-back@example.com' WHERE id = 2;
ROLLBACK;

-- truncate, then rows after it
TRUNCATE order_settings;
INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at) VALUES (1, 'color', 'green', true, '2024-06-01 00:00:00.5+00'), (46, 'priority', 'low', false, '2024-06-01 00:00:00.6+00');

-- schema changes, then rows using the new columns
ALTER TABLE customers ADD COLUMN loyalty_points integer;
UPDATE customers SET loyalty_points = id * 10 WHERE id <= 5;
INSERT INTO customers (id, email, registration_date, balance, external_id, loyalty_points) VALUES (26, 'new26@example.com', '2024-06-02 00:00:00', 26.00, gen_random_uuid(), 260);
ALTER TABLE orders ADD COLUMN discount numeric(10,2);
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at, discount) VALUES (47, 26, '2024-06-02', 100.00, 'new', '2024-06-02 01:00:00', 5.50);
UPDATE orders SET discount = -0.01 WHERE order_id = 1;

-- the TOASTed row again, under the new schema
UPDATE customers SET loyalty_points = 7 WHERE id = 100;

-- a primary-key change of the TOASTed row: the text is unchanged again
UPDATE customers SET id = 1100 WHERE id = 100;
