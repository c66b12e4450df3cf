"""Wire codecs at the bottom of the tree: both the suite's clients and the simulator use them,
and they import nothing of the project (tests/test_import_graph.py holds them to that).

* `protobuf`: the protobuf wire format (varints, zigzag, fields), reader and writer;
* `dropsonde`: the Loggregator messages of cf v220/v231 on that format (dropsonde
  `events.Envelope` / `events.LogMessage`, loggregatorlib's legacy `logmessage.LogMessage`).
"""
