"""Read models: what the web (and the CLI) shows, read in a fixed number of queries.

lists      the case lists, the inbox, the overdue list, the overview's page, history
rows       case list rows (inbox, overdue list): titles, units, due status
overview   the overview matrix: knowledge supports × regions, as the viewer may see it
casepage   what a case page reads: related cases, regions, implementations, measurements
units      units by id or code, the unit list, national units, units below a region
admin      what an administrator manages, and the administration's lists
"""
