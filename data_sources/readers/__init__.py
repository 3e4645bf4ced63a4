"""What the adapters share, one concern a module (no adapter lives here):
- `documents`: bytes -> a parsed document or one Reject (JSON, XML, CSV);
- `elements`: namespace-blind access to parsed XML;
- `values`: times, zones, numbers and ids inside documents;
- `config_types`: types of config keys checked at load (zones, categories, severities, statuses).
The contract itself (Adapter, SourceConfig) is `engine.contract`; fetching is `engine.fetch`.
"""
