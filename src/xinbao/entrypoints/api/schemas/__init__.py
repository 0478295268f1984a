"""Wire schemas (Pydantic) of the REST API, one module per business area, separate from
tables and domain objects; ``common`` holds the types and answers every area shares.

Money is integer fen (``*_fen``); rates are decimal strings; dates ISO 8601. Import the
module you need (``schemas.underwriting``, ``schemas.common`` …): nothing is re-exported here.
"""
