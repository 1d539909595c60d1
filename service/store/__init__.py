"""Where the graph lives and how it is reached: the embedded pyoxigraph store, its query
worker processes, a remote SPARQL 1.1 server, and loading checked sources into graphs."""
