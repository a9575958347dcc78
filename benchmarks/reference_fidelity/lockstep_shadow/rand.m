function x = rand(varargin)
% The lockstep run's rand: the uniforms set in LOCKSTEP_UNIFORM by lockstep_trials.m.
  global LOCKSTEP_UNIFORM
  x = LOCKSTEP_UNIFORM;
end
