"""The web portal: server-rendered pages and our own ES-module JavaScript."""
