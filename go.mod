module github.com/cdcsync/cdcsync

go 1.26.8
