"""The Virtual Observatory face's shared vocabulary: identifiers and service addresses.

The VO services (TAP, SIAv2, cone search, DataLink, MOC) are adapters under ``api/vo/`` over
the same search and delivery services as the MAST API; this package holds what they must agree
on so that an ObsCore row's ``access_url`` leads to the DataLink document of the same file.
"""
