-- Committed last: once every partition of every topic holds a marker row
-- (40 keys per table, so each partition gets some), every earlier change
-- is in Kafka.
BEGIN;
INSERT INTO customers (id, email, registration_date, external_id) SELECT i, 'marker' || i || '@example.com', '2024-12-31 00:00:00', gen_random_uuid() FROM generate_series(999901, 999940) i;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at) SELECT i, i, '2024-12-31', 0, 'marker', '2024-12-31 00:00:00' FROM generate_series(999901, 999940) i;
INSERT INTO order_settings (order_id, setting_key, setting_value, updated_at) SELECT i, 'marker', 'end', '2024-12-31 00:00:00+00' FROM generate_series(999901, 999940) i;
COMMIT;
