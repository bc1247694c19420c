"""Energy management analytics (the seed's scenario 1), one module per concept, pure functions with units:

``tou``               energy and cost by time-of-use period (sharp/peak/flat/valley) and their shares
``demand``            maximum 15-min demand and the cheaper basic-charge option (capacity or demand)
``power_factor``      the monthly power factor and its adjustment of the bill
``loadmove``          what moving a device's load from some hours to others would save
``load``              load curves, trends, load duration curve, this period against an earlier one
``transformers``      load rate, overload episodes, economic band, losses and early signs
``unit_consumption``  energy and CO2e per unit produced by product, shift and team; main vs auxiliary
``states``            device states (start-up, running, standby, off), standby energy, best habits
``anomaly``           a robust baseline per device and hour of week, deviations scored

Every function reads the store only through its query API (:mod:`workspace.store`) and the tariff through
:mod:`workspace.tariffs`; none prints.
"""
