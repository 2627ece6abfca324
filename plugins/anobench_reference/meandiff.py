from anobench import Method
class MeanDiff(Method):
    name='meandiff'
class ZScore(Method):
    name='zscore'
