"""The job modules the tests load by path or import, one per topic: ``<topic>_jobs.py``.

Worker processes run from the repository root and load a module by its path from
there (``opgrid worker -f tests/jobs/<topic>_jobs.py``, ``OPGRID_LOCATIONS``), so a
run names its location by the same path; the deploy tests run theirs from this folder.
``job_shapes.py`` is no location: it builds the job shapes several of them share.
"""
