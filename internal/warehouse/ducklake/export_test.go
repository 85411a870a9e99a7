package ducklake

// OpenConfig is openConfig, for the tests.
var OpenConfig = openConfig
