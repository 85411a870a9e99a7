-- Committed last: once every partition of every topic holds a marker row
-- (40 keys per table, so each partition gets some), every earlier change
-- is in Kafka.
BEGIN;
INSERT INTO customers (id, email, registration_date) SELECT seq, CONCAT('marker', seq, '@example.com'), '2024-12-31 00:00:00' FROM seq_999901_to_999940;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at) SELECT seq, seq, '2024-12-31', 0, 'marker', '2024-12-31 00:00:00' FROM seq_999901_to_999940;
INSERT INTO order_settings (order_id, setting_key, setting_value, updated_at) SELECT seq, 'marker', 'end', '2024-12-31 00:00:00' FROM seq_999901_to_999940;
COMMIT;
