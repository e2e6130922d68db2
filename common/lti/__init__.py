"""LTI 1.3 Advantage data shared by the web process and the workers (torch-free, Flask-free).

The web (:mod:`grader.lti`) verifies launches and writes what a launch teaches us; the workers
read it to post scores back (:mod:`common.lti.passback`). Key layout under the store's prefix
``P`` (:mod:`common.lti.store`, :mod:`common.lti.keys`):

======================================  =======  =============================================
key                                     type     holds
======================================  =======  =============================================
``P:lti:registrations``                 hash     ``<issuer>\\x1f<client_id>`` -> a
                                                 :class:`~common.lti.models.Registration`
``P:lti:keys``                          hash     kid -> a :class:`~common.lti.keys.ToolKey`
``P:lti:keys:active``                   string   the kid the tool signs with now
``P:lti:people``                        hash     username -> an :class:`LtiPerson` (issuer, sub)
``P:lti:link:<sha256>``                 string   the exercise a platform's resource link opens
``P:lti:targets:<learner>:<slug>``      hash     line item URL -> a :class:`GradeTarget`
``P:lti:passback:<learner>:<slug>``     hash     line item URL -> a :class:`PassbackState`
``P:lti:passbacks``                     zset     ``<learner>:<slug>`` by last change
``P:lti:courses``                       hash     ``<issuer>\\x1f<context_id>`` -> a :class:`Course`
``P:lti:token:<sha256>``                string   a platform's access token, expires with it
``P:lti:jwks:<sha256>``                 string   a platform's key set, kept five minutes
``P:lti:roster:<sha256>``               string   a course's NRPS roster, as JSON
======================================  =======  =============================================

The web alone keeps the short-lived login state (``P:lti:state:*``, ``P:lti:nonce:*``,
``P:lti:dl:*``), see :mod:`grader.lti.states`.
"""
