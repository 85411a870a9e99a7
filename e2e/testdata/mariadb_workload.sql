-- Runs after the snapshot, while the connectors stream the binlog.

-- inserts
INSERT INTO customers (id, email, full_name, registration_date, last_login, balance, status, preferences)
SELECT seq, CONCAT('new', seq, '@example.com'), CONCAT('New ', seq), TIMESTAMP '2024-05-01 10:00:00' + INTERVAL seq MINUTE,
  TIMESTAMP '2024-05-02 10:00:00.5' + INTERVAL seq SECOND, seq * 1.01, 'active', JSON_ARRAY(seq, 'x')
FROM seq_21_to_25;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at)
SELECT seq, 21, DATE '2024-05-01', seq * 2.5, 'new', TIMESTAMP '2024-05-01 11:00:00' + INTERVAL seq SECOND FROM seq_41_to_45;

-- several updates of the same row, each its own transaction
UPDATE customers SET email = 'c3-a@example.com' WHERE id = 3;
UPDATE customers SET balance = balance + 100.25, status = 'banned' WHERE id = 3;
UPDATE customers SET preferences = JSON_SET(preferences, '$.lang', 'fr') WHERE id = 3;
UPDATE customers SET full_name = NULL, is_vip = 1, flags = b'0000000001', wake_time = '23:59:59.999' WHERE id = 3;

-- one transaction across the three tables, updating one row five times
BEGIN;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at) VALUES (46, 21, '2024-05-03', 46.00, 'new', '2024-05-03 09:00:00');
INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at) VALUES (46, 'gift_wrap', 'yes', 1, '2024-05-03 09:00:00.123'), (46, 'priority', 'high', 1, '2024-05-03 09:00:00.124');
UPDATE customers SET balance = balance - 46.00 WHERE id = 21;
UPDATE orders SET status = 'shipped', shipped_at = '2024-06-01 08:00:00' WHERE order_id = 10;
UPDATE customers SET balance = 1 WHERE id = 4;
UPDATE customers SET balance = 2 WHERE id = 4;
UPDATE customers SET balance = 3, email = 'c4@example.com' WHERE id = 4;
UPDATE customers SET balance = 4 WHERE id = 4;
UPDATE customers SET balance = 5.55 WHERE id = 4;
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
INSERT INTO customers (id, email, full_name, registration_date, balance, status) VALUES (9, 'reborn9@example.com', 'Reborn', '2024-05-05 05:05:05', 9.99, 'inactive');

-- a rolled-back transaction leaves no trace
BEGIN;
UPDATE customers SET email = 'rolled-back@example.com' WHERE id = 1;
ROLLBACK;

-- truncate, then rows after it
TRUNCATE TABLE order_settings;
INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at) VALUES (1, 'color', 'green', 1, '2024-06-01 00:00:00.5'), (46, 'priority', 'low', 0, '2024-06-01 00:00:00.6');

-- schema changes, then rows using the new columns
ALTER TABLE customers ADD COLUMN loyalty_points INT NULL;
UPDATE customers SET loyalty_points = id * 10 WHERE id <= 5;
INSERT INTO customers (id, email, registration_date, balance, status, loyalty_points) VALUES (26, 'new26@example.com', '2024-06-02 00:00:00', 26.00, 'active', 260);
ALTER TABLE orders ADD COLUMN discount DECIMAL(10,2) NULL;
INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, created_at, discount) VALUES (47, 26, '2024-06-02', 100.00, 'new', '2024-06-02 01:00:00', 5.50);
UPDATE orders SET discount = -0.01 WHERE order_id = 1;

-- TIME as a duration: MySQL's range is -838:59:59 to 838:59:59
UPDATE orders SET processing_time = '-00:30:00' WHERE order_id = 2;
UPDATE orders SET processing_time = '26:15:00.000' WHERE order_id = 3;
