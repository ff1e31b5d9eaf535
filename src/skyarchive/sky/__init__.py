"""Sky geometry: footprints (:mod:`.regions`), the HEALPix cell index (:mod:`.cells`),
typed angles and positions (:mod:`.angles`) and target-name resolution (:mod:`.resolver`).

Nothing is re-exported here, so importing one module does not pull in the others.
"""
