"""Scale-out on Ray (``farm run --executor ray``): many lab hosts, many drivers, one scheduler.

Each lab host advertises its devices as Ray resources (``device:<name>``, one unit each) and
one ``farm_host_cpu`` unit; each cell is a Ray task that needs its device's unit, so Ray
serialises cells per device across every driver. Only ``executor`` and ``ray_cluster`` import Ray
(the optional extra ``tflite-farm[ray]``); ``resources`` and ``health`` are plain Python.
"""
